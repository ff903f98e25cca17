import ArgumentParser
import Dataset
import Distributed
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every chunk of a prepared dataset against its checksum.",
        discussion: """
            Training checks each chunk the first time it reads it; this checks them all at once, on all cores \
            (and split over the ranks under mpirun), and the dataset's identity. Exits 1 if anything is damaged, \
            listing each damaged chunk with its level and images.
            """)

    @Argument(help: ArgumentHelp("A prepared dataset file.", valueName: "dataset"))
    var dataset: String

    func run() throws {
        let world = joinWorld()
        do {
            let start = DispatchTime.now().uptimeNanoseconds
            let prepared = try PreparedDataset(path: dataset)
            let report = prepared.verify(part: world.rank, of: world.size)
            // Rank 0 prints everything: the others send their damaged-chunk lines and counts.
            let lines =
                report.damaged.map { "error: \($0)" }
                + (report.identityMatches
                    ? [] : ["error: \(dataset): the identity in the header does not match the chunk checksums"])
            let gathered = try world.allgather(unevenBytes: Array(lines.joined(separator: "\n").utf8))
            let bytes = try world.allgather(bytes: withUnsafeBytes(of: report.bytes.littleEndian) { Array($0) })
            let totalBytes = bytes.reduce(0) {
                $0 + $1.withUnsafeBytes { Int(littleEndian: $0.loadUnaligned(as: Int.self)) }
            }
            let problems = gathered.flatMap {
                String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if world.rank == 0 {
                problems.forEach { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
                print(
                    "\(dataset): \(problems.isEmpty ? "intact" : "DAMAGED (\(problems.count) problems)"): "
                        + "\(prepared.count) images at \(prepared.resolution)x\(prepared.resolution), "
                        + "\(formatted(Double(totalBytes) / 1e9, 3)) GB checked in \(formatted(seconds, 3)) s "
                        + "(\(formatted(Double(totalBytes) / 1e9 / max(seconds, 1e-9), 2)) GB/s) on \(world.size) "
                        + "rank\(world.size == 1 ? "" : "s"); identity \(prepared.identity)")
            }
            try world.finalize()
            if !problems.isEmpty { Foundation.exit(1) }
        } catch {
            world.endJob(error)
        }
    }
}
