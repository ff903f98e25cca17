/// A note on the watchdog's channel. Every rank numbers the collectives it starts 1, 2, 3... (all ranks
/// start the same collectives in the same order, as MPI requires), and tells rank 0 when it arrives at
/// one; rank 0 answers with where it stands, so that the others can tell when rank 0 is the one missing.
struct WatchdogNote: Equatable {
    enum Kind: Int64 {
        /// A rank arrived at collective `sequence` at `time` (nanoseconds of the real-time clock, which
        /// cluster nodes keep in step, unlike their monotonic clocks), and since its previous arrival it
        /// was once held up for `stall` nanoseconds while it waited (stopped or not scheduled: the
        /// others wait for it then, though it arrived in time).
        case arrival = 1
        /// A rank still waits in collective `sequence`: it is alive, only the others are late.
        case stillWaiting = 2
        /// Rank 0 has arrived at collective `sequence`.
        case leaderPosition = 3
    }

    var kind: Kind
    var sequence: Int64
    var time: Int64 = 0
    var stall: Int64 = 0

    var words: [Int64] { [kind.rawValue, sequence, time, stall] }

    init(kind: Kind, sequence: Int64, time: Int64 = 0, stall: Int64 = 0) {
        (self.kind, self.sequence, self.time, self.stall) = (kind, sequence, time, stall)
    }

    /// Nil for words no version of this code sends.
    init?(words: [Int64]) {
        guard words.count == 4, let kind = Kind(rawValue: words[0]), words[1] >= 0, words[3] >= 0 else {
            return nil
        }
        self.init(kind: kind, sequence: words[1], time: words[2], stall: words[3])
    }
}

/// How far the slowest rank trailed the others in a collective: from the first rank's arrival to its, or
/// how long it was held up (stopped, not scheduled) inside one while the others waited for it. Arrival
/// times rather than waiting times: a rank stopped while it waits would seem to wait, not lag.
public struct RankLag: Equatable, Sendable {
    public let rank: Int
    public let host: String
    public let seconds: Double
}

/// Rank 0's view of the other ranks: the last collective each has arrived at, when it was last heard
/// from, which ranks are owed word of rank 0's own position, and when each arrived at recent
/// collectives. Pure bookkeeping; `Watchdog` feeds it the notes.
struct ArrivalLedger {
    let size: Int
    /// The newest collective each rank has arrived at (0: none).
    private(set) var arrived: [Int64]
    /// When each rank was last heard from, in nanoseconds of the monotonic clock.
    private(set) var heard: [UInt64]
    /// The position of rank 0 each rank was last told.
    private var toldPosition: [Int64]
    /// Each rank's arrival time at a collective, by collective, until every rank's is known.
    private var arrivals: [Int64: [Int64?]] = [:]
    private var newestArrival: Int64 = 0
    private var largest: (rank: Int, nanoseconds: Int64)?
    /// Collectives further back than this are dropped from `arrivals` unfinished (notes that arrive
    /// that late are from a rank that lags far more than any lag worth reporting).
    static let lagWindow = 256

    init(size: Int, now: UInt64) {
        self.size = size
        arrived = Array(repeating: 0, count: size)
        heard = Array(repeating: now, count: size)
        toldPosition = Array(repeating: 0, count: size)
    }

    mutating func record(_ note: WatchdogNote, from rank: Int, at now: UInt64) {
        guard (0..<size).contains(rank) else { return }
        heard[rank] = now
        switch note.kind {
        case .arrival, .stillWaiting: arrived[rank] = max(arrived[rank], note.sequence)
        case .leaderPosition: return
        }
        if note.kind == .arrival {
            recordArrival(collective: note.sequence, rank: rank, time: note.time)
            recordLag(rank: rank, nanoseconds: note.stall)
        }
    }

    private mutating func recordLag(rank: Int, nanoseconds: Int64) {
        if nanoseconds > (largest?.nanoseconds ?? 0) { largest = (rank, nanoseconds) }
    }

    private mutating func recordArrival(collective: Int64, rank: Int, time: Int64) {
        newestArrival = max(newestArrival, collective)
        guard collective > newestArrival - Int64(Self.lagWindow) else { return }
        var times = arrivals[collective] ?? Array(repeating: nil, count: size)
        times[rank] = time
        let known = times.compactMap { $0 }
        guard known.count == size else {
            arrivals[collective] = times
            if arrivals.count > Self.lagWindow {
                for stale in arrivals.keys where stale <= newestArrival - Int64(Self.lagWindow) {
                    arrivals[stale] = nil
                }
            }
            return
        }
        arrivals[collective] = nil
        let last = known.indices.max { known[$0] < known[$1] }!
        recordLag(rank: last, nanoseconds: known[last] - known.min()!)
    }

    /// The ranks that have arrived where rank 0 now stands (collective `position`) or beyond without
    /// having been told so: each must learn that rank 0 is not the one missing.
    func ranksToTell(position: Int64) -> [Int] {
        (1..<max(size, 1)).filter { arrived[$0] > toldPosition[$0] && position > toldPosition[$0] }
    }

    mutating func told(_ rank: Int, position: Int64) {
        toldPosition[rank] = max(toldPosition[rank], position)
    }

    /// The largest lag since the last call, naming the rank that trailed.
    mutating func takeLargestLag(hosts: [String]) -> RankLag? {
        defer { largest = nil }
        return largest.map {
            RankLag(
                rank: $0.rank, host: hosts.indices.contains($0.rank) ? hosts[$0.rank] : "?",
                seconds: Double($0.nanoseconds) / 1e9)
        }
    }

    /// Why collective `sequence` did not complete, as rank 0 sees it after waiting: the ranks that never
    /// arrived or, if all did, those that fell silent (not heard from for `silence` nanoseconds).
    func verdict(sequence: Int64, now: UInt64, silence: UInt64, hosts: [String]) -> String {
        let missing = (0..<size).filter { arrived[$0] < sequence }
        if !missing.isEmpty {
            let last = missing.map { "\(Self.name($0, hosts)): last at collective \(arrived[$0])" }
            return "\(Self.plural(missing.count, "rank")) did not arrive: " + Self.list(last)
        }
        let silent = (1..<max(size, 1)).filter { now - heard[$0] >= silence }
        if !silent.isEmpty {
            return "\(Self.plural(silent.count, "rank")) arrived but stopped responding (stopped or hung): "
                + Self.list(silent.map { Self.name($0, hosts) })
        }
        return "every rank arrived and still responds, yet it did not complete (a lost connection?)"
    }

    static func name(_ rank: Int, _ hosts: [String]) -> String {
        "rank \(rank) (\(hosts.indices.contains(rank) ? hosts[rank] : "?"))"
    }

    /// Up to 16 items, then how many more: a verdict over thousands of ranks stays readable.
    static func list(_ items: [String]) -> String {
        let shown = items.prefix(16).joined(separator: ", ")
        return items.count > 16 ? shown + " and \(items.count - 16) more" : shown
    }

    static func plural(_ count: Int, _ noun: String) -> String { count == 1 ? "1 \(noun)" : "\(count) \(noun)s" }
}
