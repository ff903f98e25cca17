import Foundation
import StopSignal

/// Stop requests by signal, for the commands that can stop at a safe point (`train`, `prepare`).
///
/// The handlers only record the request, so they are installed when such a command starts, before it
/// creates any file: a signal then never kills the process halfway through a write. Which signals count
/// is set by PROGAN_STOP_SIGNALS (comma-separated names, default TERM,INT,HUP,USR1: what terminals,
/// `kill`, `mpirun` and Slurm's `--signal` send).
enum StopRequests {
    static let variable = "PROGAN_STOP_SIGNALS"
    static let defaultSignals = "TERM,INT,HUP,USR1"

    /// The signals a scheduler or a user may send to ask for a stop; the others keep their meaning
    /// (QUIT and the fault signals should still end the process at once).
    private static let known: [String: Int32] = [
        "TERM": SIGTERM, "INT": SIGINT, "HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "XCPU": SIGXCPU,
    ]

    /// Installs the handlers; a one-line error for a malformed PROGAN_STOP_SIGNALS.
    static func install() throws {
        let signals = try parse(ProcessInfo.processInfo.environment[variable] ?? defaultSignals)
        guard pgstop_install(signals, Int32(signals.count)) == 0 else {
            throw StopRequestError(
                message: "\(variable): cannot install the handlers: \(String(cString: strerror(errno)))")
        }
    }

    static func parse(_ list: String) throws -> [Int32] {
        try list.split(separator: ",", omittingEmptySubsequences: false).map { item in
            let name = item.trimmingCharacters(in: .whitespaces).uppercased()
            let bare = name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name
            guard let number = known[bare] else {
                throw StopRequestError(
                    message: "\(variable): '\(item)' is not one of "
                        + known.keys.sorted().joined(separator: ", ") + " (comma-separated)")
            }
            return number
        }
    }

    static var requested: Bool { pgstop_requested() != 0 }

    /// The signal that asked for the stop, as "SIGTERM".
    static var signalName: String {
        let number = pgstop_signal()
        return known.first { $0.value == number }.map { "SIG" + $0.key } ?? "signal \(number)"
    }
}

struct StopRequestError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Exit statuses besides 0 (finished) and 1 (error): EX_TEMPFAIL from sysexits.h, "stopped on request,
/// the same command resumes", so batch scripts and schedulers know to requeue.
enum ExitStatus {
    static let stoppedOnRequest: Int32 = 75
}
