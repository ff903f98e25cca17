import Dispatch
import Foundation

/// What `PreparedDataset.verify` found.
public struct VerificationReport: Sendable {
    public var chunks = 0
    public var bytes = 0
    /// One per damaged chunk, in file order.
    public var damaged: [DatasetError] = []
    /// Whether the identity in the header matches the checksums (checked by the part that holds chunk 0).
    public var identityMatches = true
}

extension PreparedDataset {
    /// Checks every chunk against its checksum on all cores, or, for one of `parts` processes, the chunks
    /// whose index is `part` modulo `parts` (`progan verify` under mpirun), and the identity.
    public func verify(part: Int = 0, of parts: Int = 1) -> VerificationReport {
        let chunks = layout.regions.flatMap { region in
            (0..<layout.chunkCount(of: region)).map { (region, $0) }
        }
        let mine = Array(stride(from: part, to: chunks.count, by: parts))
        let intact = UnsafeMutableBufferPointer<Bool>.allocate(capacity: mine.count)
        defer { intact.deallocate() }
        DispatchQueue.concurrentPerform(iterations: mine.count) { index in
            let (region, chunk) = chunks[mine[index]]
            intact[index] = verifyChunk(chunk, of: region)
        }
        var report = VerificationReport()
        for (index, global) in mine.enumerated() {
            let (region, chunk) = chunks[global]
            report.chunks += 1
            report.bytes += min(layout.chunkSize, layout.size(of: region) - chunk * layout.chunkSize)
            if !intact[index] { report.damaged.append(corruption(chunk, of: region)) }
        }
        if part == 0 {
            var identity = FNV1a64()
            let bytes = UnsafeRawBufferPointer(file.bytes)
            identity.update(UnsafeRawBufferPointer(rebasing: bytes[0..<48]))
            identity.update(
                UnsafeRawBufferPointer(
                    rebasing: bytes[layout.chunkTableOffset..<layout.chunkTableOffset + 4 * chunks.count]))
            report.identityMatches = DatasetHeader.hex(identity.value) == self.identity
        }
        return report
    }
}
