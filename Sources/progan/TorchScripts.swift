import Foundation
import Model

/// The Python side of pro_gan_pytorch conversion (scripts/torch/pgp_convert.py), run with the venv that
/// scripts/torch/install-peer.sh makes. The scripts are found beside the repository the binary was
/// built in (.build/<configuration>/progan); the interpreter is $PROGAN_PYTHON, or the venv at
/// $PROGAN_PEER_VENV (default .venv-peer, relative to the repository).
enum TorchScripts {
    static func run(_ script: String, _ arguments: [String], about path: String) throws {
        guard let root = repositoryRoot() else {
            throw ConfigError(message: "\(path): scripts/torch/\(script) not found above \(executablePath()) (run the progan built in the repository)")
        }
        let python = pythonPath(root: root)
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ConfigError(message: "\(path): converting pro_gan_pytorch models needs PyTorch; no Python at \(python): "
                              + "run scripts/torch/install-peer.sh (or set PROGAN_PYTHON)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["\(root)/scripts/torch/\(script)"] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // The script's own errors are one line "error: FILE: problem"; anything else (a traceback) is
            // reported by its last line.
            let last = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init)
            if let last, last.hasPrefix("error: ") { throw ConfigError(message: String(last.dropFirst("error: ".count))) }
            throw ConfigError(message: "\(path): \(script) failed: \(last ?? "exit status \(process.terminationStatus)")")
        }
    }

    private static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func repositoryRoot() -> String? {
        var directory = URL(fileURLWithPath: executablePath()).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.path + "/scripts/torch/pgp_convert.py") { return directory.path }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    private static func pythonPath(root: String) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let python = environment["PROGAN_PYTHON"], !python.isEmpty { return python }
        let venv = environment["PROGAN_PEER_VENV"].flatMap { $0.isEmpty ? nil : $0 } ?? ".venv-peer"
        return (venv.hasPrefix("/") ? venv : "\(root)/\(venv)") + "/bin/python"
    }
}

/// A scratch file path that is removed when `body` returns.
func withTemporaryPath<T>(_ suffix: String, _ body: (String) throws -> T) rethrows -> T {
    let path = NSTemporaryDirectory() + "/progan-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)\(suffix)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
