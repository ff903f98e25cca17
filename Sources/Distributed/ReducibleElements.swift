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
    static func mpiAllreduceSum(_ values: UnsafeMutablePointer<Self>?, count: Int) -> Int32 {
        pgmpi_allreduce(values, count, mpiElement, PGMPI_SUM)
    }

    static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Self>?, count: Int,
        request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce_sum(values, count, mpiElement, request)
    }
}

extension MPIMaxReducible {
    static func mpiAllreduceMax(_ values: UnsafeMutablePointer<Self>?, count: Int) -> Int32 {
        pgmpi_allreduce(values, count, mpiElement, PGMPI_MAX)
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
