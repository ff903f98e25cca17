import Foundation

/// A fresh directory, removed with everything in it when the last reference goes.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "progan-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String {
        path + "/" + name
    }

    /// Creates the folder `name` inside this directory and returns its path.
    public func folder(_ name: String) throws -> String {
        let folderPath = file(name)
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: false)
        return folderPath
    }

    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) throws -> String {
        let filePath = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: filePath))
        return filePath
    }

    public func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }

    /// The names of the entries directly inside this directory, sorted.
    public func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}
