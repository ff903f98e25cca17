import MPIShim

/// A failed MPI call: the code MPI returned, the operation that returned it and
/// MPI's own explanation of the code.
public struct MPIError: Error, CustomStringConvertible {
    public let code: Int32
    public let operation: String
    public let explanation: String

    public var description: String {
        "\(operation) failed with MPI error \(code): \(explanation)"
    }

    static func check(_ code: Int32, _ operation: String) throws {
        guard code != 0 else { return }
        throw MPIError(code: code, operation: operation, explanation: explanation(of: code))
    }

    private static func explanation(of code: Int32) -> String {
        stringFromC(capacity: 512) { pgmpi_error_string(code, $0, $1) }
    }
}

/// A collective whose ranks disagreed about its arguments; MPI itself would
/// truncate, corrupt or hang instead of reporting it.
public struct CollectiveMismatchError: Error, CustomStringConvertible {
    public let description: String
}

/// Reads a NUL-terminated string that `fill` writes into a buffer of `capacity` bytes.
func stringFromC(capacity: Int, _ fill: (UnsafeMutablePointer<CChar>, Int) -> Void) -> String {
    var buffer = [CChar](repeating: 0, count: capacity)
    return buffer.withUnsafeMutableBufferPointer { characters in
        fill(characters.baseAddress!, characters.count)
        return String(cString: characters.baseAddress!)
    }
}
