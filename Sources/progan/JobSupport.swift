import Distributed
import Foundation

/// Prints `error` as one line on standard error and exits non-zero, the way every command reports bad input.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    Foundation.exit(1)
}

/// This process's MPI world (a world of one without mpirun); a one-line error if MPI cannot start.
func joinWorld() -> Communicator {
    do { return try Communicator.world() } catch { fail(error) }
}

extension Communicator {
    /// Ends the job with `error`. A failing rank must end the whole job: a rank that just exits leaves
    /// the others waiting forever.
    func endJob(_ error: Error) -> Never {
        if size > 1 { abort(message: "\(error)") }
        fail(error)
    }
}
