import EngineTesting
import XCTest
@testable import Engine

final class ConvTests: XCTestCase {
    /// (batch, channels, size, outChannels, kernel, padding): odd kernels and images, the batched
    /// (small image) path and the per-sample (>= 16x16) path, and 1x1 convolutions on both.
    let cases: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 3, 4, 5, 3, 1), (5, 2, 4, 3, 3, 1), (5, 3, 1, 4, 3, 1), (1, 2, 1, 2, 1, 0),
        (5, 4, 4, 3, 1, 0), (2, 3, 4, 2, 4, 0), (2, 2, 4, 3, 4, 1), (1, 3, 5, 2, 4, 2),
        (2, 3, 16, 4, 3, 1), (2, 5, 16, 3, 1, 0), (3, 2, 17, 2, 3, 1),
    ]

    func testForwardMatchesDirectConvolution() {
        for (index, (n, c, size, o, k, pad)) in cases.enumerated() {
            let x = randomTensor([n, c, size, size], seed: UInt64(index))
            let w = randomTensor([o, c, k, k], seed: UInt64(100 + index))
            let y = conv2d(x, w, padding: pad)
            let expected = Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: pad)
            XCTAssertEqual(y.shape, [n, o, size + 2 * pad - k + 1, size + 2 * pad - k + 1])
            assertClose(doubles(y), expected, tolerance: 1e-5, "conv case \(index)")
        }
    }

    /// Both backward kernels of the im2col path against the Double references: the data gradient as a
    /// conv by the rotated filter (size-preserving cases) and through col2im (the others).
    func testIm2colBackwardKernelsMatchReferences() {
        ConvAlgorithm.forcing(.im2col) {
            for (index, (n, c, size, o, k, pad)) in cases.enumerated() {
                let x = randomTensor([n, c, size, size], seed: UInt64(index)),
                    w = randomTensor([o, c, k, k], seed: UInt64(100 + index))
                let outSize = size + 2 * pad - k + 1
                let dy = randomTensor([n, o, outSize, outSize], seed: UInt64(200 + index))
                assertClose(
                    doubles(conv2dBackwardData(dy, w, inputShape: x.shape, padding: pad)),
                    Reference.conv2dBackwardData(doubles(dy), x.shape, doubles(w), w.shape, padding: pad),
                    tolerance: 1e-5, "case \(index) data gradient")
                assertClose(
                    doubles(conv2dBackwardFilter(x, dy, kernel: k, padding: pad)),
                    Reference.conv2dBackwardFilter(doubles(x), x.shape, doubles(dy), w.shape, padding: pad),
                    tolerance: 1e-5, "case \(index) filter gradient")
            }
        }
    }

    func testGradientsMatchFiniteDifferences() {
        for (index, (n, c, size, o, k, pad)) in cases.enumerated() where n * c * size * size <= 600 {
            let x = randomTensor([n, c, size, size], seed: UInt64(index))
            let w = randomTensor([o, c, k, k], seed: UInt64(100 + index))
            checkGradients([x, w], "conv case \(index)") { conv2d($0[0], $0[1], padding: pad) }
        }
    }

    /// The two backward maps are themselves differentiable ops (the double backward goes through them).
    func testBackwardOpsAreDifferentiable() {
        let x = randomTensor([2, 3, 4, 4], seed: 1), w = randomTensor([2, 3, 3, 3], seed: 2)
        let dy = randomTensor([2, 2, 4, 4], seed: 3)
        checkGradients([dy, w], "conv2dBackwardData") {
            conv2dBackwardData($0[0], $0[1], inputShape: x.shape, padding: 1)
        }
        checkGradients([x, dy], "conv2dBackwardFilter") { conv2dBackwardFilter($0[0], $0[1], kernel: 3, padding: 1) }
        checkSecondOrder([x, w], "conv2d") { conv2d($0[0], $0[1], padding: 1) }
    }

    /// A layer whose im2col matrix exceeds the workspace bound is processed in several chunks and
    /// still gives the direct-convolution result.
    func testChunkedBatchMatchesReference() {
        let g = ConvGeometry(batch: 40, inChannels: 256, height: 8, width: 8, outChannels: 2, kernel: 3, padding: 1)
        XCTAssertGreaterThan(g.slabs.count, 1, "the case must exercise several chunks")
        let x = randomTensor([g.batch, g.inChannels, 8, 8], seed: 5), w = randomTensor([2, 256, 3, 3], seed: 6)
        assertClose(
            doubles(conv2d(x, w, padding: 1)), Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: 1),
            tolerance: 1e-5, "chunked conv")
    }

    /// The backward kernels are the adjoints of the forward one: <conv(x, w), dy> = <x, dX(dy, w)> =
    /// <w, dW(x, dy)>, checked in Double on layers large enough to be split into row bands or sample
    /// chunks, where finite differences would be too slow.
    func testBackwardKernelsAreAdjointsOnLargeLayers() {
        let layers = [(1, 32, 32, 2, 3, 1), (2, 40, 24, 3, 1, 0), (40, 256, 8, 2, 3, 1), (3, 4, 20, 2, 4, 2)]
        for (index, (n, c, size, o, k, pad)) in layers.enumerated() {
            let g = ConvGeometry(
                batch: n, inChannels: c, height: size, width: size, outChannels: o, kernel: k, padding: pad)
            XCTAssertGreaterThan(g.slabs.count, n == 1 ? 1 : 0)
            let x = randomTensor([n, c, size, size], seed: UInt64(index)), w = randomTensor([o, c, k, k], seed: 50)
            let dy = randomTensor([n, o, g.outHeight, g.outWidth], seed: 51)
            func dot(_ a: Tensor, _ b: Tensor) -> Double {
                zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            let forward = dot(conv2d(x, w, padding: pad), dy)
            let data = dot(x, conv2dBackwardData(dy, w, inputShape: x.shape, padding: pad))
            let filter = dot(w, conv2dBackwardFilter(x, dy, kernel: k, padding: pad))
            XCTAssertEqual(data, forward, accuracy: 1e-4 * abs(forward) + 1e-3, "layer \(index): data adjoint")
            XCTAssertEqual(filter, forward, accuracy: 1e-4 * abs(forward) + 1e-3, "layer \(index): filter adjoint")
            assertClose(
                doubles(conv2d(x, w, padding: pad)),
                Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: pad),
                tolerance: 1e-5, "layer \(index): forward")
        }
    }
}
