import Distributed
import Engine
import Model
import XCTest

@testable import Training

/// How the gradient reducer cuts a step's gradients into allreduces: buckets of `bucketValues` values in
/// layout order, small tensors sharing one and large ones split, each started as soon as all its
/// parameters have their final gradients, and the reductions in flight polled after every layer.
final class GradientBucketTests: XCTestCase {
    /// Sizes 3, 5, 20 and 2 in buckets of 8: the first two share a bucket, the third is split over
    /// three, whose last the fourth completes. The backward pass reports parameters last to first.
    func testSmallTensorsShareABucketAndLargeOnesAreSplit() throws {
        var layout = ParameterLayout()
        let parameters = [3, 5, 20, 2].enumerated().map { layout.declare("p\($0.offset)", shape: [$0.element]) }
        let recorder = ReductionRecorder()
        let reducer = GradientReducer(
            deterministic: true, bucketValues: 8, toleratesNonFinite: false, collective: recorder)
        let gradients = [Float](repeating: 0.5, count: layout.count)
        var output = [Float](repeating: 0, count: layout.count)
        try gradients.withUnsafeBufferPointer { source in
            let base = UnsafeMutablePointer(mutating: source.baseAddress!)
            reducer.begin(layout: layout, count: layout.count, network: .generator)
            var startedAfter: [Int] = []
            for parameter in parameters.reversed() {
                reducer.addFinal(base + parameter.offset, base: base)
                startedAfter.append(recorder.started.count)
            }
            XCTAssertEqual(startedAfter, [0, 3, 3, 4])
            XCTAssertEqual(recorder.ranges, [8..<16, 16..<24, 24..<30, 0..<8])
            XCTAssertGreaterThan(recorder.polls, 0, "the reductions in flight are polled during the backward pass")
            try output.withUnsafeMutableBufferPointer {
                try reducer.finish(microbatches: 1, lastGradients: source.baseAddress!, into: $0.baseAddress!)
            }
        }
        XCTAssertEqual(output, gradients, "one micro-batch whose sum left it as it was: the gradient itself")
        XCTAssertEqual(reducer.started.count, 4)
        XCTAssertEqual(reducer.started.bytes, 30 * 6, "sums of 2^39 on the grid over 2 ranks travel in 6 bytes")
        XCTAssertTrue(recorder.started.allSatisfy { $0.waited }, "finish waits for every bucket")
    }
}

/// One of two ranks, whose sums it records (leaving the values as they are) with how often they were polled.
private final class ReductionRecorder: Collective {
    final class Reduction: PendingSum {
        let address: Int, count: Int, stride: Int
        let recorder: ReductionRecorder
        var waited = false
        init(address: Int, count: Int, stride: Int, recorder: ReductionRecorder) {
            (self.address, self.count, self.stride, self.recorder) = (address, count, stride, recorder)
        }
        func wait() throws { waited = true }
        func progress() throws -> Bool {
            recorder.polls += 1
            return false
        }
    }

    var started: [Reduction] = []
    var polls = 0
    /// The element ranges of the sums, counted from the lowest address started.
    var ranges: [Range<Int>] {
        let origin = started.map(\.address).min() ?? 0
        return started.map { ($0.address - origin) / $0.stride..<($0.address - origin) / $0.stride + $0.count }
    }
    var rank: Int { 0 }
    var size: Int { 2 }
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    func sum(_ values: UnsafeMutableBufferPointer<Int64>) throws {}
    func sum(_ values: inout [Double]) throws {}
    func max(_ values: inout [Int64]) throws {}
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum { record(values) }
    func startSum(_ values: UnsafeMutableBufferPointer<Int64>) throws -> PendingSum { record(values) }
    /// Packed sums start at their first value's slot in the reducer's 64-bit sums (see `FixedPointSums`).
    func startSum(packed values: UnsafeMutableRawBufferPointer, width: Int) throws -> PendingSum {
        record(
            UnsafeMutableBufferPointer(
                start: values.baseAddress!.assumingMemoryBound(to: Int64.self), count: values.count / width))
    }
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    func allgather(unevenBytes: [UInt8]) throws -> [[UInt8]] { [unevenBytes] }
    func barrier() throws {}

    private func record<Element>(_ values: UnsafeMutableBufferPointer<Element>) -> PendingSum {
        let reduction = Reduction(
            address: Int(bitPattern: values.baseAddress), count: values.count,
            stride: MemoryLayout<Element>.stride, recorder: self)
        started.append(reduction)
        return reduction
    }
}
