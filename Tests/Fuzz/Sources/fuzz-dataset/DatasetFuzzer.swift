// libFuzzer target for PreparedDataset(path:) plus reads through fillBatch and image(_:resolution:).
// Build and run: scripts/fuzz.sh dataset SECONDS.
//
// Every valid file ends in a CRC-32 of all the bytes before it, which random mutation almost never
// keeps right, so a file rejected only for its checksum is retried once with the checksum fixed:
// that lets the fuzzer reach the code after validation (the reads) as well as the rejection paths.
import FuzzSupport
import Dataset

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = fuzzScratchPath("pgds")
    writeFuzzInput(path, data, size)
    do {
        try exercise(path)
    } catch DatasetError.checksumMismatch {
        guard size >= 4 else { return 0 }
        var bytes = Array(UnsafeBufferPointer(start: data, count: size))
        storeLittleEndian(fuzzCRC32(bytes[..<(size - 4)]), into: &bytes, at: size - 4)
        writeFuzzInput(path, bytes, size)
        try? exercise(path)
    } catch {
        // Any other thrown error is the correct answer to a bad file.
        fuzzVerbose("\(error)")
    }
    return 0
}

private func exercise(_ path: String) throws {
    let dataset = try PreparedDataset(path: path)
    precondition(dataset.count > 0 && !dataset.levels.isEmpty && dataset.levels.last == dataset.resolution)
    let indices = Array(Set([0, dataset.count / 2, dataset.count - 1])).sorted()
    for side in dataset.levels {
        let floats = indices.count * PreparedDataset.channels * side * side
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { batch.deallocate() }
        dataset.fillBatch(indices: indices, resolution: side, mirror: indices.map { $0 % 2 == 1 }, into: batch)
        dataset.fillBatch(indices: indices, resolution: side, mirror: nil, into: batch)
        for i in 0..<floats { precondition(batch[i] >= -1 && batch[i] <= 1, "pixel out of [-1, 1]") }
        let image = dataset.image(dataset.count - 1, resolution: side)
        precondition(image.width == side && image.height == side)
    }
}
