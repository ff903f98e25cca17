import Foundation

/// Rank 0's output. On a terminal, progress is one status line redrawn in place (carriage return, then
/// clear to the end of the line); anywhere else (CI, Slurm logs, pipes) there is no status line and each
/// tick leaves one plain line, so logs stay readable and grep-able.
public final class Console {
    public let isTerminal: Bool
    /// The terminal's width, 0 when unknown.
    private let columns: () -> Int
    private let write: (String) -> Void
    private var statusShowing = false

    public init(isTerminal: Bool, columns: @escaping () -> Int = { 0 }, write: @escaping (String) -> Void) {
        self.isTerminal = isTerminal
        self.columns = columns
        self.write = write
    }

    /// Standard output, flushed after every write so that a log file is current when a job dies.
    public static func standardOutput() -> Console {
        let terminal = outputTerminal()
        // Asked at every redraw, so that a resized window is followed.
        let columns = { () -> Int in
            guard let terminal else { return 0 }
            var size = winsize()
            return ioctl(terminal, UInt(TIOCGWINSZ), &size) == 0 ? Int(size.ws_col) : 0
        }
        return Console(isTerminal: terminal != nil, columns: columns) { text in
            fputs(text, stdout)
            fflush(stdout)
        }
    }

    /// A descriptor of the terminal that shows our output, if a person is watching one. OpenMPI gives
    /// every rank a pseudo-terminal for its output, whatever mpirun's own output is (a log file, a
    /// pipe to `tee`, a Slurm output file), so under mpirun what counts is mpirun's standard output:
    /// the parent's descriptor 1, which Linux shows under /proc.
    private static func outputTerminal() -> Int32? {
        guard isatty(STDOUT_FILENO) == 1 else { return nil }
        guard ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil else { return STDOUT_FILENO }
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(getppid())/fd/1"),
            target.hasPrefix("/dev/pts/") || target.hasPrefix("/dev/tty")
        else { return nil }
        let descriptor = open(target, O_RDONLY | O_NOCTTY | O_CLOEXEC)
        return descriptor >= 0 && isatty(descriptor) == 1 ? descriptor : nil
    }

    /// A permanent line; a status line showing stays above it.
    public func line(_ text: String) {
        write((statusShowing ? "\n" : "") + text + "\n")
        statusShowing = false
    }

    /// Replaces the status line; nothing when not on a terminal. A line that wrapped could no longer be
    /// redrawn in place by a carriage return, so it is cut to the terminal's width.
    public func status(_ text: String) {
        guard isTerminal else { return }
        let width = columns()
        write("\r" + (width > 1 ? String(text.prefix(width - 1)) : text) + "\u{1B}[K")
        statusShowing = true
    }

    /// The summary of a finished tick: the status line on a terminal, a permanent line elsewhere.
    public func tick(_ text: String) {
        if isTerminal { status(text) } else { line(text) }
    }
}
