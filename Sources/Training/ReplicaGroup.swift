import Distributed
import Engine
import SafeIO

/// The replicas of all ranks, kept identical: rank 0 (the leader) decides, the others follow.
///
/// Everything ranks exchange about the replicas besides gradients goes through here: the start-up
/// layout check and copy of the leader's state, the leader's counters before every step, the stop
/// requests, the periodic agreement hash and the sum of the logged losses.
public struct ReplicaGroup {
    public let collective: Collective

    public init(_ collective: Collective) { self.collective = collective }

    public var isLeader: Bool { collective.rank == 0 }

    /// Makes every rank's replica the leader's: checks that all ranks built the same parameter layout,
    /// then copies the leader's weights, averaged weights, optimizer state and counters to the others.
    /// Run once after construction and after a restore.
    public func synchronize(_ replica: Replica) throws {
        try verifyLayouts(replica)
        for (_, buffer) in replica.buffers {
            try collective.broadcast(
                UnsafeMutableRawBufferPointer(start: buffer.pointer, count: buffer.count * 4),
                root: 0)
        }
        var steps = [Int64(replica.generatorOptimizer.step), Int64(replica.discriminatorOptimizer.step)]
        try collective.broadcast(&steps, root: 0)
        replica.generatorOptimizer.restore(step: Int(steps[0]))
        replica.discriminatorOptimizer.restore(step: Int(steps[1]))
        try adoptLeaderCounters(replica)
    }

    /// Sets every rank's counters to the leader's, so the schedule (a pure function of them), ticks and
    /// checkpoints follow the leader's clock exactly.
    public func adoptLeaderCounters(_ replica: Replica) throws {
        let progress = replica.progress
        var counters = [
            progress.step, progress.imagesShown, progress.dataPosition, progress.resolution,
            progress.phase == .fadeIn ? 1 : 0,
        ].map(Int64.init)
        try collective.broadcast(&counters, root: 0)
        replica.progress = Progress(
            step: Int(counters[0]), imagesShown: Int(counters[1]),
            dataPosition: Int(counters[2]), resolution: Int(counters[3]),
            phase: counters[4] == 1 ? .fadeIn : .stabilize)
    }

    /// Whether any rank was asked to stop (e.g. by a signal): all ranks learn the same answer at the same
    /// point, so they stop together whichever of them received the signal, and whenever it came.
    public func anyRankRequestsStop(_ requestedHere: Bool) throws -> Bool {
        var requests = [requestedHere ? 1.0 : 0.0]
        try collective.sum(&requests)
        return requests[0] > 0
    }

    /// Compares a hash of (step, images shown, resolution, weights) across ranks; a difference means the
    /// replicas drifted apart (a bug or a hardware fault), and continuing would train garbage.
    public func verifyAgreement(_ replica: Replica) throws {
        let progress = replica.progress
        var crc = CRC32()
        [Int64(progress.step), Int64(progress.imagesShown), Int64(progress.resolution)].withUnsafeBytes {
            crc.update($0)
        }
        for store in [replica.generatorWeights, replica.discriminatorWeights, replica.averagedGeneratorWeights] {
            crc.update(UnsafeRawBufferPointer(start: store.values.pointer, count: store.count * 4))
        }
        let differing = try ranksDiffering(from: crc.value)
        guard differing.isEmpty else {
            throw TrainingError(
                message: "replicas diverged by step \(progress.step): the weights or counters of "
                    + "\(Self.ranks(differing)) differ from rank 0's")
        }
    }

    /// The sum of every rank's logged losses: each rank logs its share of the step's mean (`Trainer.step`).
    public func sum(_ log: StepLog) throws -> StepLog {
        var values = log.map { Double($0.1) }
        try collective.sum(&values)
        return zip(log, values).map { ($0.0.0, Float($0.1)) }
    }

    private func verifyLayouts(_ replica: Replica) throws {
        let mine = replica.layoutDescription.joined(separator: "\n")
        let differing = try ranksDiffering(from: CRC32.checksum(Array(mine.utf8)))
        guard !differing.isEmpty else { return }
        var leader = Array(mine.utf8)
        var length = [Int64(leader.count)]
        try collective.broadcast(&length, root: 0)
        if !isLeader { leader = [UInt8](repeating: 0, count: Int(length[0])) }
        try leader.withUnsafeMutableBytes { try collective.broadcast($0, root: 0) }
        guard differing.contains(collective.rank) else {
            // A rank that matches the leader waits here: a differing rank ends the job with the detail.
            try collective.barrier()
            throw TrainingError(message: "\(Self.ranks(differing)) built networks that differ from rank 0's")
        }
        let ours = replica.layoutDescription
        let theirs = String(decoding: leader, as: UTF8.self).split(separator: "\n").map(String.init)
        let detail =
            zip(ours, theirs).first { $0.0 != $0.1 }.map { "here '\($0.0)', on rank 0 '\($0.1)'" }
            ?? "here \(ours.count) parameters, on rank 0 \(theirs.count)"
        throw TrainingError(message: "the networks built here differ from rank 0's: \(detail)")
    }

    /// The ranks whose `hash` differs from the leader's.
    private func ranksDiffering(from hash: UInt32) throws -> [Int] {
        let hashes = try collective.allgather(bytes: withUnsafeBytes(of: hash.littleEndian) { Array($0) })
        return hashes.indices.filter { hashes[$0] != hashes[0] }
    }

    private static func ranks(_ ranks: [Int]) -> String {
        "rank\(ranks.count > 1 ? "s" : "") \(ranks.map(String.init).joined(separator: ", "))"
    }
}
