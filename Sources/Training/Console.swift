import Foundation

/// Rank 0's output. On a terminal, progress is one status line redrawn in place (carriage return, then
/// clear to the end of the line); anywhere else (CI, Slurm logs, pipes) there is no status line and each
/// tick leaves one plain line, so logs stay readable and grep-able.
public final class Console {
    public let isTerminal: Bool
    private let write: (String) -> Void
    private var statusShowing = false

    public init(isTerminal: Bool, write: @escaping (String) -> Void) {
        self.isTerminal = isTerminal
        self.write = write
    }

    /// Standard output, flushed after every write so that a log file is current when a job dies.
    public static func standardOutput() -> Console {
        Console(isTerminal: isatty(STDOUT_FILENO) == 1) { text in
            fputs(text, stdout)
            fflush(stdout)
        }
    }

    /// A permanent line; a status line showing stays above it.
    public func line(_ text: String) {
        write((statusShowing ? "\n" : "") + text + "\n")
        statusShowing = false
    }

    /// Replaces the status line; nothing when not on a terminal.
    public func status(_ text: String) {
        guard isTerminal else { return }
        write("\r" + text + "\u{1B}[K")
        statusShowing = true
    }

    /// The summary of a finished tick: the status line on a terminal, a permanent line elsewhere.
    public func tick(_ text: String) {
        if isTerminal { status(text) } else { line(text) }
    }
}
