import ArgumentParser
import Distributed
import Foundation
import SafeIO
import Model

/// Prints `error` as one line on standard error and exits non-zero, the way every command reports bad input.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    Foundation.exit(1)
}

/// Refuses an output path that would spread files over the file system (empty, or the root directory).
func checkOutputPath(_ path: String?, _ flag: String) throws {
    if let path, let problem = outputPathProblem(path) { throw ValidationError("\(flag) '\(path)': \(problem)") }
}

/// Ends a command that writes scratch files when a stop signal has arrived (its handler only records it,
/// see `StopRequests`): the error's exit removes them (`TemporaryPaths`).
func stopIfRequested() throws {
    if StopRequests.requested { throw ConfigError(message: "stopped by a signal; the output was not written") }
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
