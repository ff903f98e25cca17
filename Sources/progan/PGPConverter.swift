import Foundation
import Model
import SafeIO

/// pro_gan_pytorch models are read and written by the Python package in scripts/torch (`progan_torch`, whose
/// converter needs PyTorch). The converter is looked for in one fixed order, and the first place that exists
/// is used, so that what runs never depends on where the binary happens to be built:
///   1. `$PROGAN_PYTHON -m progan_torch.pgp_convert`: an interpreter (path, or name on PATH) that has the
///      package installed; when set, it is the only place looked at;
///   2. `progan-pgp-convert` on PATH: the package's entry point, e.g. in an activated venv;
///   3. `python3 -m progan_torch.pgp_convert` with the python3 in this binary's own directory (progan copied
///      into a venv's bin/).
enum PGPConverter {
    static let package = "progan_torch"
    static let module = "\(package).pgp_convert"
    static let entryPoint = "progan-pgp-convert"

    /// Runs the converter with `arguments`; its one-line errors are passed on, about `path` otherwise.
    static func run(_ arguments: [String], about path: String) throws {
        let command = try locate(about: path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + arguments
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { throw notInstalled(path, because: "\(command[0]) cannot be run") }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return }
        // The converter's own errors are one line "error: FILE: problem"; anything else (a traceback) is
        // reported by its last line.
        let last = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init)
        let status = "exit status \(process.terminationStatus)"
        guard let last else { throw ConfigError(message: "\(path): \(entryPoint) failed: \(status)") }
        if last.hasPrefix("error: ") {
            var message = String(last.dropFirst("error: ".count))
            // A scratch file handed to the converter is ours: its problem is the subject's.
            if message.contains("/\(scratchPrefix)-"), let colon = message.range(of: ": ") {
                message = path + message[colon.lowerBound...]
            }
            throw ConfigError(message: message)
        }
        if last.contains("No module named '\(package)'") {
            throw notInstalled(path, because: "\(command[0]) does not have the \(package) package")
        }
        throw ConfigError(message: "\(path): \(entryPoint) failed: \(last)")
    }

    /// The converter's command line, in the order of the type's documentation.
    private static func locate(about path: String) throws -> [String] {
        let environment = ProcessInfo.processInfo.environment
        if let python = environment["PROGAN_PYTHON"], !python.isEmpty {
            guard let executable = executable(python) else {
                throw notInstalled(path, because: "PROGAN_PYTHON=\(python) is not an executable")
            }
            return [executable, "-m", module]
        }
        if let converter = executable(entryPoint) { return [converter] }
        let binary =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let beside = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("python3").path
        if FileManager.default.isExecutableFile(atPath: beside) { return [beside, "-m", module] }
        throw notInstalled(path, because: "PROGAN_PYTHON is not set, no \(entryPoint) on PATH, no \(beside)")
    }

    /// `name` itself when it is a path, else the first executable of that name on PATH.
    private static func executable(_ name: String) -> String? {
        let candidates =
            name.contains("/")
            ? [name]
            : (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func notInstalled(_ path: String, because reason: String) -> ConfigError {
        ConfigError(
            message: "\(path): converting pro_gan_pytorch models needs PyTorch and progan's converter (\(reason)): "
                + "pip install './scripts/torch[torch]' from the progan repository, "
                + "or set PROGAN_PYTHON to a Python that has it")
    }
}

/// What the names of this process's scratch directories begin with.
let scratchPrefix = "progan-scratch-\(ProcessInfo.processInfo.processIdentifier)"

/// A scratch file path, in a scratch directory of its own that is removed when `body` returns (or at exit).
func withTemporaryPath<T>(_ suffix: String, _ body: (String) throws -> T) throws -> T {
    let directory = try TemporaryPaths.makeDirectory(named: scratchPrefix)
    defer { TemporaryPaths.remove(directory) }
    return try body(directory + "/model" + suffix)
}
