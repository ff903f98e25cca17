import Distributed
import XCTest

/// Arguments MPI cannot take come back as errors naming the call and MPI's own explanation, never as
/// a truncated count or an aborted process.
final class MPIErrorTests: XCTestCase {
    func testARootOutsideTheWorldIsAnError() throws {
        let world = try Communicator.world()
        var byte: UInt8 = 1
        for root in [1, -1, Int.max] {
            XCTAssertThrowsError(try withUnsafeMutableBytes(of: &byte) { try world.broadcast($0, root: root) }) {
                assertMPIError($0, operation: "MPI_Ibcast", mentioning: "root")
            }
        }
        XCTAssertEqual(byte, 1)
    }

    /// MPI counts are 32-bit: 2^32 + 1 elements would reach MPI as a count of 1 if the length were
    /// truncated instead of refused. Only the first element is real memory, which is all a truncated
    /// call on one rank could touch.
    func testCountsBeyondMPIsIntAreRefusedNotTruncated() throws {
        let world = try Communicator.world(), count = (1 << 32) + 1
        var byte: UInt8 = 0
        XCTAssertThrowsError(
            try withUnsafeMutableBytes(of: &byte) {
                try world.broadcast(UnsafeMutableRawBufferPointer(start: $0.baseAddress, count: count), root: 0)
            }
        ) { assertMPIError($0, operation: "MPI_Ibcast", mentioning: "count") }

        var float: Float = 0, double: Double = 0
        XCTAssertThrowsError(
            try withUnsafeMutablePointer(to: &float) {
                try world.allreduceSum(UnsafeMutableBufferPointer(start: $0, count: count))
            }
        ) { assertMPIError($0, operation: "MPI_Iallreduce(sum)", mentioning: "count") }
        XCTAssertThrowsError(
            try withUnsafeMutablePointer(to: &float) {
                _ = try world.startAllreduceSum(UnsafeMutableBufferPointer(start: $0, count: count))
            }
        ) { assertMPIError($0, operation: "MPI_Iallreduce(sum)", mentioning: "count") }
        XCTAssertThrowsError(
            try withUnsafeMutablePointer(to: &double) {
                try world.allreduceMax(UnsafeMutableBufferPointer(start: $0, count: count))
            }
        ) { assertMPIError($0, operation: "MPI_Iallreduce(max)", mentioning: "count") }
    }

    private func assertMPIError(
        _ error: Error, operation: String, mentioning word: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = error as? MPIError else {
            return XCTFail("expected an MPIError, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(error.operation, operation, file: file, line: line)
        XCTAssertNotEqual(error.code, 0, file: file, line: line)
        XCTAssertTrue(error.explanation.lowercased().contains(word), error.explanation, file: file, line: line)
        XCTAssertEqual(
            "\(error)", "\(operation) failed with MPI error \(error.code): \(error.explanation)",
            file: file, line: line)
    }
}
