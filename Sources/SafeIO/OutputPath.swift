import Glibc

/// Why `path` must not be written into, or nil when it may: an empty path (what an unset shell variable
/// gives) or one that names the root directory would spread a command's files over the whole file system.
/// Relative paths are resolved against the working directory, lexically (`..` of `/` is `/`).
public func outputPathProblem(_ path: String) -> String? {
    guard !path.isEmpty else { return "an empty path (an unset shell variable?); name what to write" }
    var components: [Substring] = []
    let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
    for component in absolute.split(separator: "/") where component != "." {
        if component == ".." { _ = components.popLast() } else { components.append(component) }
    }
    return components.isEmpty ? "the root directory; name a directory or file under it" : nil
}

private func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    // A working directory that cannot be named (deleted, too deep) leaves the path as given.
    guard getcwd(&buffer, buffer.count) != nil else { return "." }
    return String(cString: buffer)
}
