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
    /// A version 1 file was checked whole when it was opened, and would not have opened damaged.
    public func verify(part: Int = 0, of parts: Int = 1) -> VerificationReport {
        guard formatVersion == DatasetLayout.version else {
            return part == 0 ? VerificationReport(chunks: 1, bytes: file.bytes.count) : VerificationReport()
        }
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
            let computed = try? layout.identity(of: UnsafeRawBufferPointer(file.bytes), classNames: classNames)
            report.identityMatches = computed.map(DatasetHeader.hex) == identity
        }
        return report
    }
}
