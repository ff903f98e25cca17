import MPIShim

/// Element types MPI can sum across ranks. The requirements bind each type to
/// its typed shim entry point; call the `Communicator` methods instead.
public protocol MPISummable {
    static func mpiAllreduceSum(_ values: UnsafeMutablePointer<Self>?, count: Int) -> Int32
    static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Self>?, count: Int,
        request: UnsafeMutablePointer<OpaquePointer?>) -> Int32
}

/// Element types MPI can take the maximum of across ranks. The requirement binds
/// each type to its typed shim entry point; call the `Communicator` methods instead.
public protocol MPIMaxReducible {
    static func mpiAllreduceMax(_ values: UnsafeMutablePointer<Self>?, count: Int) -> Int32
}

extension Float: MPISummable {
    public static func mpiAllreduceSum(_ values: UnsafeMutablePointer<Float>?, count: Int) -> Int32 {
        pgmpi_allreduce_sum_float(values, count)
    }

    public static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Float>?, count: Int,
        request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce_sum_float(values, count, request)
    }
}

extension Double: MPISummable, MPIMaxReducible {
    public static func mpiAllreduceSum(_ values: UnsafeMutablePointer<Double>?, count: Int) -> Int32 {
        pgmpi_allreduce_sum_double(values, count)
    }

    public static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Double>?, count: Int,
        request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce_sum_double(values, count, request)
    }

    public static func mpiAllreduceMax(_ values: UnsafeMutablePointer<Double>?, count: Int) -> Int32 {
        pgmpi_allreduce_max_double(values, count)
    }
}

extension Int64: MPISummable, MPIMaxReducible {
    public static func mpiAllreduceSum(_ values: UnsafeMutablePointer<Int64>?, count: Int) -> Int32 {
        pgmpi_allreduce_sum_int64(values, count)
    }

    public static func mpiStartAllreduceSum(
        _ values: UnsafeMutablePointer<Int64>?, count: Int,
        request: UnsafeMutablePointer<OpaquePointer?>
    ) -> Int32 {
        pgmpi_start_allreduce_sum_int64(values, count, request)
    }

    public static func mpiAllreduceMax(_ values: UnsafeMutablePointer<Int64>?, count: Int) -> Int32 {
        pgmpi_allreduce_max_int64(values, count)
    }
}
