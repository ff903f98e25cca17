import Dataset
import Foundation

/// What a run reads of its dataset, per node and phase, for `progan plan --images N` or `--dataset FILE`.
/// A phase at r x r draws its minibatches from every image, so each node reads the whole r x r level over the
/// phase; its ranks share one copy in the page cache (the file is mapped, not read per rank).
func datasetLines(images: Int, datasetResolution: Int, phases: [Int]) -> [String] {
    let file = PreparedDataset.fileSize(images: images, resolution: datasetResolution)
    return [
        "dataset: \(images) images at \(datasetResolution)x\(datasetResolution), a file of about "
            + "\(decimalBytes(file)) (every level; what staging copies to each node's disk)",
        "resolution  read per node in the phase",
    ]
        + phases.map {
            "\($0)x\($0)".padding(toLength: 10, withPad: " ", startingAt: 0)
                + rightAligned(decimalBytes(PreparedDataset.levelSize(images: images, resolution: $0)), 27)
        }
}

private func decimalBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    switch value {
    case ..<1e6: return String(format: "%.0f kB", value / 1e3)
    case ..<1e9: return String(format: "%.1f MB", value / 1e6)
    default: return String(format: "%.1f GB", value / 1e9)
    }
}
