import XCTest
@testable import Engine

/// The forward-only ops of the FID Inception network against direct loops in Double.
final class InferenceOpsTests: XCTestCase {
    /// (batch, channels, height, width, outChannels, kh, kw, stride, padH, padW): Inception's shapes in small,
    /// strided and factorized ones (own im2col, one and several bands) and square stride-1 ones (training convs).
    let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (2, 3, 11, 9, 4, 3, 3, 2, 0, 0), (1, 2, 9, 9, 3, 1, 7, 1, 0, 3), (2, 3, 7, 8, 2, 7, 1, 1, 3, 0),
        (1, 4, 6, 6, 3, 1, 3, 1, 0, 1), (1, 3, 40, 300, 2, 3, 3, 2, 0, 0), (2, 3, 8, 8, 5, 3, 3, 1, 1, 1),
        (1, 2, 9, 9, 3, 5, 5, 1, 2, 2), (2, 6, 5, 5, 4, 1, 1, 1, 0, 0), (1, 2, 8, 8, 2, 3, 3, 2, 1, 1),
    ]

    func testConvMatchesDirectConvolution() {
        for (index, (n, c, h, w, o, kh, kw, s, ph, pw)) in cases.enumerated() {
            let x = randomTensor([n, c, h, w], seed: UInt64(index)), f = randomTensor([o, c, kh, kw], seed: 50)
            let bias = randomTensor([o], seed: 60)
            for relu in [false, true] {
                let y = conv2dInference(x, f, bias: bias, stride: s, padding: (ph, pw), relu: relu)
                let (oh, ow) = ((h + 2 * ph - kh) / s + 1, (w + 2 * pw - kw) / s + 1)
                XCTAssertEqual(y.shape, [n, o, oh, ow], "case \(index)")
                var expected = [Double](repeating: 0, count: n * o * oh * ow)
                for b in 0..<n {
                    for oc in 0..<o {
                        for i in 0..<oh {
                            for j in 0..<ow {
                                var sum = Double(bias[oc])
                                for ic in 0..<c {
                                    for ki in 0..<kh {
                                        for kj in 0..<kw {
                                            let (y, x0) = (i * s + ki - ph, j * s + kj - pw)
                                            guard y >= 0 && y < h && x0 >= 0 && x0 < w else { continue }
                                            sum +=
                                                Double(x[((b * c + ic) * h + y) * w + x0])
                                                * Double(f[((oc * c + ic) * kh + ki) * kw + kj])
                                        }
                                    }
                                }
                                expected[((b * o + oc) * oh + i) * ow + j] = relu ? max(sum, 0) : sum
                            }
                        }
                    }
                }
                assertClose(doubles(y), expected, tolerance: 1e-5, "case \(index), relu \(relu)")
            }
        }
    }

    func testPoolsMatchDirectLoops() {
        let x = randomTensor([2, 3, 9, 8], seed: 7)
        for (kernel, stride, padding) in [(3, 2, 0), (3, 1, 1), (8, 8, 0), (2, 1, 1)] {
            for reduction in [PoolReduction.maximum, .average] {
                let y = pool2d(x, reduction, kernel: kernel, stride: stride, padding: padding)
                let (oh, ow) = ((9 + 2 * padding - kernel) / stride + 1, (8 + 2 * padding - kernel) / stride + 1)
                XCTAssertEqual(y.shape, [2, 3, oh, ow])
                var expected: [Double] = []
                for plane in 0..<6 {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var window: [Double] = []
                            for dy in 0..<kernel {
                                for dx in 0..<kernel {
                                    let (r, c) = (i * stride + dy - padding, j * stride + dx - padding)
                                    if r >= 0 && r < 9 && c >= 0 && c < 8 {
                                        window.append(Double(x[plane * 72 + r * 8 + c]))
                                    }
                                }
                            }
                            expected.append(
                                reduction == .maximum ? window.max()! : window.reduce(0, +) / Double(window.count))
                        }
                    }
                }
                assertClose(doubles(y), expected, tolerance: 1e-6, "pool \(reduction) \(kernel)/\(stride)/\(padding)")
            }
        }
    }

    /// Output pixel i samples input coordinate i · in / out (TensorFlow 1's resize): upsampling 2 -> 4
    /// gives the pixels and their midpoints, the last clamped; downsampling 4 -> 2 picks every other pixel.
    func testResizeSamplesTensorFlowCoordinates() {
        let x = Tensor(shape: [1, 1, 2, 2], values: [0, 4, 8, 12])
        XCTAssertEqual(
            resizeBilinear(x, height: 4, width: 4).scalars, [0, 2, 4, 4, 4, 6, 8, 8, 8, 10, 12, 12, 8, 10, 12, 12])
        let y = Tensor(shape: [1, 1, 1, 4], values: [1, 2, 3, 4])
        XCTAssertEqual(resizeBilinear(y, height: 1, width: 2).scalars, [1, 3])
        XCTAssertEqual(
            resizeBilinear(y, height: 1, width: 3).scalars.map { ($0 * 1e4).rounded() / 1e4 }, [1, 2.3333, 3.6667])
    }

    func testConcatenateChannelsKeepsSamplesApart() {
        let a = Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 4]),
            b = Tensor(shape: [2, 2, 1, 2], values: [5, 6, 7, 8, 9, 10, 11, 12])
        let joined = concatenateChannels([a, b])
        XCTAssertEqual(joined.shape, [2, 3, 1, 2])
        XCTAssertEqual(joined.scalars, [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
    }
}
