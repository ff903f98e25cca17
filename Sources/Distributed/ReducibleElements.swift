import MPIShim

/// Element types MPI can reduce across ranks: the requirement names the shim's tag for the type.
/// Call the `Communicator` methods instead.
public protocol MPIReducible {
    static var mpiElement: pgmpi_element { get }
}

/// Element types MPI can sum across ranks.
public protocol MPISummable: MPIReducible {}

/// Element types MPI can take the maximum of across ranks.
public protocol MPIMaxReducible: MPIReducible {}

extension MPISummable {
    static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Self>?, count: Int, request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce(values, count, mpiElement, PGMPI_SUM, request)
    }
}

extension MPIMaxReducible {
    static func mpiStartAllreduceMax(
        _ values: UnsafeMutablePointer<Self>?, count: Int, request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce(values, count, mpiElement, PGMPI_MAX, request)
    }
}

extension Float: MPISummable {
    public static var mpiElement: pgmpi_element { PGMPI_FLOAT }
}

extension Double: MPISummable, MPIMaxReducible {
    public static var mpiElement: pgmpi_element { PGMPI_DOUBLE }
}

extension Int64: MPISummable, MPIMaxReducible {
    public static var mpiElement: pgmpi_element { PGMPI_INT64 }
}
