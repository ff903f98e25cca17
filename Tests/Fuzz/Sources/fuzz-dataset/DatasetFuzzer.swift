// libFuzzer target for PreparedDataset(path:) plus reads through fillBatch, image(_:resolution:), labels(),
// sources() and verify(). Build and run: scripts/fuzz.sh dataset SECONDS.
//
// A valid header (format 2) holds a CRC-32C of its first 56 bytes and the class names, which random
// mutation almost never keeps right, so a file rejected only for that checksum is retried once with it
// fixed: that lets the fuzzer reach the layout checks and the reads as well as the rejection paths. A
// damaged chunk is a thrown error, a correct answer.
import FuzzSupport
import Dataset

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = fuzzScratchPath("pgds")
    writeFuzzInput(path, data, size)
    do {
        try exercise(path)
    } catch DatasetError.corruptHeader(_, "header checksum mismatch") {
        var bytes = Array(UnsafeBufferPointer(start: data, count: size))
        let namesSize = Int(bytes[36]) | Int(bytes[37]) << 8 | Int(bytes[38]) << 16 | Int(bytes[39]) << 24
        storeLittleEndian(
            fuzzCRC32(bytes[0..<56] + bytes[64..<64 + namesSize], polynomial: 0x82F6_3B78), into: &bytes, at: 56)
        writeFuzzInput(path, bytes, size)
        do { try exercise(path) } catch { fuzzVerbose("\(error)") }
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
        try? dataset.fillBatch(indices: indices, resolution: side, mirror: indices.map { $0 % 2 == 1 }, into: batch)
        if (try? dataset.fillBatch(indices: indices, resolution: side, mirror: nil, into: batch)) != nil {
            for i in 0..<floats { precondition(batch[i] >= -1 && batch[i] <= 1, "pixel out of [-1, 1]") }
        }
        if let image = try? dataset.image(dataset.count - 1, resolution: side) {
            precondition(image.width == side && image.height == side)
        }
    }
    if let labels = try? dataset.labels() {
        precondition(labels.count == dataset.count && labels.allSatisfy { $0 < dataset.classNames.count })
    }
    _ = try? dataset.sources()
    let report = dataset.verify()
    precondition(report.chunks > 0)
}
