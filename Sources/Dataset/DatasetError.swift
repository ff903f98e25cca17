import ImageIO

/// Why a dataset could not be prepared or loaded; `description` is one line
/// naming the file or folder and the problem.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case invalidResolution(Int)
    case noSuchDirectory(folder: String)
    case notADirectory(folder: String)
    case noImageFiles(folder: String)
    case noUsableImages(folder: String, found: Int, skipped: Int)
    case imageChanged(ImageError)
    case badLabels(path: String, problem: String)
    case notADataset(path: String)
    case tooShort(path: String, size: Int)
    case unsupportedVersion(path: String, version: UInt32)
    case corruptHeader(path: String, problem: String)
    case sizeMismatch(path: String, size: Int, expected: Int)
    case legacyChecksumMismatch(path: String)
    case corruptChunk(path: String, region: String, chunk: Int, images: Range<Int>?)
    /// A preparation interrupted by a stop request; its temporary file is removed.
    case stopped(output: String)
    /// On the other ranks of a preparation, for a failure all of them saw, which rank 0 reports.
    case reportedByRankZero

    public var description: String {
        switch self {
        case .invalidResolution(let resolution):
            return "resolution \(resolution) is not a power of two from 4 to 1024"
        case .noSuchDirectory(let folder):
            return "\(folder): no such directory"
        case .notADirectory(let folder):
            return "\(folder): not a directory"
        case .noImageFiles(let folder):
            return "\(folder): no PNG or JPEG files found (in it or its subfolders)"
        case .noUsableImages(let folder, let found, let skipped):
            return "\(folder): no usable images (\(found) files, \(skipped) skipped)"
        case .imageChanged(let error):
            return "\(error) (it changed while the dataset was being prepared)"
        case .badLabels(let path, let problem):
            return "\(path): \(problem)"
        case .notADataset(let path):
            return "\(path): not a prepared dataset (no PGDSET signature); create one with progan prepare"
        case .tooShort(let path, let size):
            return "\(path): truncated: \(size) bytes is shorter than the header"
        case .unsupportedVersion(let path, let version):
            return "\(path): built by format version \(version); this build reads versions \(LegacyDataset.version) "
                + "and \(DatasetLayout.version) — run progan prepare again"
        case .corruptHeader(let path, let problem):
            return "\(path): corrupt header: \(problem)"
        case .sizeMismatch(let path, let size, let expected):
            return "\(path): \(size) bytes, but its header describes \(expected) bytes: the file is truncated "
                + "or corrupt"
        case .legacyChecksumMismatch(let path):
            return "\(path): checksum mismatch: the version 1 file is corrupt; prepare it again from its images"
        case .corruptChunk(let path, let region, let chunk, let images):
            let what = images.map { "\(region), images \($0.lowerBound)..<\($0.upperBound)" } ?? region
            return "\(path): checksum mismatch in \(what) (chunk \(chunk)): the file is corrupt; "
                + "prepare it again (progan verify \(path) lists every damaged chunk)"
        case .reportedByRankZero:
            return "the preparation failed; rank 0 says why"
        case .stopped(let output):
            return "\(output): preparation stopped on request; nothing written"
        }
    }
}
