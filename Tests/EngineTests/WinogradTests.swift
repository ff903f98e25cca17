import EngineTesting
import XCTest
@testable import Engine

/// The F(4x4, 3x3) path, forced onto layers of every awkward size, against the Double reference and
/// central differences, and against the im2col path where the reference would be too slow.
final class WinogradTests: XCTestCase {
    /// (batch, channels, size, outChannels, padding): images smaller than one tile (1x1, 2x2, 3x3), a
    /// partial tile at the border (5x5, 7x7, 13x13), exact tiles (4x4, 8x8), and padding 0 and 2.
    let cases: [(Int, Int, Int, Int, Int)] = [
        (1, 3, 1, 2, 1), (3, 2, 2, 3, 1), (1, 4, 3, 2, 1), (2, 3, 4, 5, 1), (1, 2, 5, 3, 1), (3, 5, 7, 4, 1),
        (2, 3, 8, 2, 1), (1, 6, 13, 3, 1), (2, 3, 7, 2, 0), (1, 2, 5, 3, 2), (2, 3, 3, 2, 2),
    ]

    func testAllThreePassesMatchReference() {
        ConvAlgorithm.forcing(.winograd) {
            for (index, (n, c, size, o, pad)) in cases.enumerated() {
                let g = ConvGeometry(
                    batch: n, inChannels: c, height: size, width: size, outChannels: o, kernel: 3, padding: pad)
                XCTAssertEqual(g.algorithm, .winograd)
                let x = randomTensor([n, c, size, size], seed: UInt64(index)),
                    w = randomTensor([o, c, 3, 3], seed: UInt64(40 + index))
                let dy = randomTensor([n, o, g.outHeight, g.outWidth], seed: UInt64(80 + index))
                let label = "case \(index) (\(n)x\(c)x\(size)x\(size) -> \(o), padding \(pad))"
                assertClose(
                    doubles(conv2d(x, w, padding: pad)),
                    Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: pad), tolerance: 1e-4,
                    "\(label): forward")
                assertClose(
                    doubles(conv2dBackwardData(dy, w, inputShape: x.shape, padding: pad)),
                    Reference.conv2dBackwardData(doubles(dy), x.shape, doubles(w), w.shape, padding: pad),
                    tolerance: 1e-4,
                    "\(label): data gradient")
                assertClose(
                    doubles(conv2dBackwardFilter(x, dy, kernel: 3, padding: pad)),
                    Reference.conv2dBackwardFilter(doubles(x), x.shape, doubles(dy), w.shape, padding: pad),
                    tolerance: 1e-4,
                    "\(label): filter gradient")
            }
        }
    }

    /// Wide layers sum many transformed products per output: the error must stay within 1e-3 of the
    /// reference there too, on values of the scale a network sees.
    func testAccuracyOnAWideLayer() {
        ConvAlgorithm.forcing(.winograd) {
            let x = randomTensor([2, 96, 9, 9], seed: 1), w = scale(randomTensor([64, 96, 3, 3], seed: 2), 0.05)
            let dy = randomTensor([2, 64, 9, 9], seed: 3)
            assertClose(
                doubles(conv2d(x, w, padding: 1)),
                Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: 1),
                tolerance: 1e-4, "wide forward")
            assertClose(
                doubles(conv2dBackwardData(dy, w, inputShape: x.shape, padding: 1)),
                Reference.conv2dBackwardData(doubles(dy), x.shape, doubles(w), w.shape, padding: 1), tolerance: 1e-4,
                "wide data")
            assertClose(
                doubles(conv2dBackwardFilter(x, dy, kernel: 3, padding: 1)),
                Reference.conv2dBackwardFilter(doubles(x), x.shape, doubles(dy), w.shape, padding: 1), tolerance: 1e-4,
                "wide filter")
        }
    }

    func testGradientsAndSecondOrderThroughWinograd() {
        ConvAlgorithm.forcing(.winograd) {
            let x = randomTensor([2, 3, 5, 5], seed: 1), w = randomTensor([2, 3, 3, 3], seed: 2)
            checkGradients([x, w], "winograd conv2d") { conv2d($0[0], $0[1], padding: 1) }
            let dy = randomTensor([2, 2, 5, 5], seed: 3)
            checkGradients([dy, w], "winograd conv2dBackwardData") {
                conv2dBackwardData($0[0], $0[1], inputShape: x.shape, padding: 1)
            }
            checkGradients([x, dy], "winograd conv2dBackwardFilter") {
                conv2dBackwardFilter($0[0], $0[1], kernel: 3, padding: 1)
            }
            checkSecondOrder([x, w], "winograd conv2d") { leakyRelu(conv2d($0[0], $0[1], padding: 1)) }
        }
    }

    /// A layer with more tiles than one chunk holds, chunks starting mid-row and mid-sample: the filter
    /// gradient sums over chunks and every pass agrees with the im2col path.
    func testChunkedLayerMatchesIm2col() {
        let g = ConvGeometry(batch: 7, inChannels: 16, height: 18, width: 18, outChannels: 8, kernel: 3, padding: 1)
        let plan = WinogradPlan(g)
        XCTAssertGreaterThan(plan.chunks.count, 2, "the case must exercise several chunks")
        XCTAssertTrue(
            plan.chunks.contains { $0.lowerBound % plan.tilesAcross != 0 }, "a chunk must start inside a tile row")
        let x = randomTensor([7, 16, 18, 18], seed: 4), w = randomTensor([8, 16, 3, 3], seed: 5)
        let dy = randomTensor([7, 8, 18, 18], seed: 6)
        func passes() -> [[Double]] {
            [
                doubles(conv2d(x, w, padding: 1)), doubles(conv2dBackwardData(dy, w, inputShape: x.shape, padding: 1)),
                doubles(conv2dBackwardFilter(x, dy, kernel: 3, padding: 1)),
            ]
        }
        let winograd = ConvAlgorithm.forcing(.winograd, passes), im2col = ConvAlgorithm.forcing(.im2col, passes)
        for (name, (a, b)) in zip(["forward", "data", "filter"], zip(winograd, im2col)) {
            assertClose(a, b, tolerance: 1e-4, "chunked \(name)")
        }
    }

    /// The bias and leaky ReLU fused into the kernel's epilogue give what the separate ops give, on
    /// both paths.
    func testEpilogueMatchesSeparateOps() {
        let x = randomTensor([2, 3, 6, 6], seed: 7), w = randomTensor([4, 3, 3, 3], seed: 8),
            bias = randomTensor([4], seed: 9)
        let g = ConvGeometry(batch: 2, inChannels: 3, height: 6, width: 6, outChannels: 4, kernel: 3, padding: 1)
        for algorithm in ConvAlgorithm.allCases {
            ConvAlgorithm.forcing(algorithm) {
                let expected = doubles(leakyRelu(addBias(conv2d(x, w, padding: 1), bias), slope: 0.2))
                let fused = Tensor(zeros: [2, 4, 6, 6])
                convForwardKernel(
                    input: x.pointer, filter: w.pointer, output: fused.pointer, g,
                    epilogue: ConvEpilogue(bias: bias.pointer, slope: 0.2))
                assertClose(doubles(fused), expected, tolerance: 1e-5, "\(algorithm) epilogue")
            }
        }
    }
}
