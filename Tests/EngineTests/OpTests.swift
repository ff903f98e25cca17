import EngineTesting
import Foundation
import XCTest
@testable import Engine

/// Every op's forward against a Double reference, its gradient against central differences, and (for
/// the ops D uses) its second derivative against differences of the analytic first derivative.
final class OpTests: XCTestCase {
    let a = randomTensor([2, 3, 2, 2], seed: 1, awayFromZero: 0.1)
    let b = randomTensor([2, 3, 2, 2], seed: 2, awayFromZero: 0.1)

    private func positive(_ t: Tensor) -> Tensor { Tensor(shape: t.shape, values: t.scalars.map { abs($0) + 0.5 }) }

    func testPointwiseForward() {
        let x = doubles(a), y = doubles(b)
        let cases: [(String, Tensor, [Double])] = [
            ("add", add(a, b), zip(x, y).map(+)),
            ("sub", sub(a, b), zip(x, y).map(-)),
            ("mul", mul(a, b), zip(x, y).map(*)),
            ("div", div(a, b), zip(x, y).map(/)),
            ("scale", scale(a, -1.5), x.map { $0 * -1.5 }),
            ("addScalar", addScalar(a, 0.25), x.map { $0 + 0.25 }),
            ("square", square(a), x.map { $0 * $0 }),
            ("sqrt", sqrt(positive(a)), doubles(positive(a)).map { $0.squareRoot() }),
            ("lerp", lerp(a, b, 0.3), zip(x, y).map { $0 + 0.3 * ($1 - $0) }),
            ("leakyRelu", leakyRelu(a), x.map { $0 > 0 ? $0 : 0.2 * $0 }),
            ("relu", relu(a), x.map { max($0, 0) }),
            ("softplus", softplus(scale(a, 30)), x.map { Foundation.log1p(Foundation.exp(30 * $0)) }),
            ("sigmoid", sigmoid(a), x.map { 1 / (1 + Foundation.exp(-$0)) }),
        ]
        for (name, actual, expected) in cases { assertClose(doubles(actual), expected, tolerance: 1e-6, name) }
    }

    func testPointwiseGradients() {
        checkGradients([a, b], "add") { add($0[0], $0[1]) }
        checkGradients([a, b], "sub") { sub($0[0], $0[1]) }
        checkGradients([a, b], "mul") { mul($0[0], $0[1]) }
        checkGradients([a, positive(b)], step: 1e-3, "div") { div($0[0], $0[1]) }
        checkGradients([a], "scale") { scale($0[0], -1.5) }
        checkGradients([a], "addScalar") { addScalar($0[0], 2) }
        checkGradients([a], "square") { square($0[0]) }
        checkGradients([positive(a)], "sqrt") { sqrt($0[0]) }
        checkGradients([a, b], "lerp") { lerp($0[0], $0[1], 0.3) }
        checkGradients([a], step: 1e-3, "leakyRelu") { leakyRelu($0[0]) }
        checkGradients([a], step: 1e-3, "relu") { relu($0[0]) }
        checkGradients([a], "softplus") { softplus($0[0]) }
        checkGradients([a], "sigmoid") { sigmoid($0[0]) }
    }

    func testPointwiseSecondOrder() {
        checkSecondOrder([a, b], "mul") { mul($0[0], $0[1]) }
        checkSecondOrder([a, positive(b)], step: 1e-3, "div") { div($0[0], $0[1]) }
        checkSecondOrder([a], "square") { square($0[0]) }
        checkSecondOrder([positive(a)], "sqrt") { sqrt($0[0]) }
        checkSecondOrder([a], step: 1e-3, "leakyRelu") { square(leakyRelu($0[0])) }
        checkSecondOrder([a], "softplus") { softplus($0[0]) }
        checkSecondOrder([a], "sigmoid") { sigmoid($0[0]) }
    }

    func testReductionsAndBroadcasts() {
        let x = doubles(a)
        assertClose(doubles(sum(a)), [x.reduce(0, +)], tolerance: 1e-6, "sum")
        assertClose(doubles(mean(a)), [x.reduce(0, +) / Double(x.count)], tolerance: 1e-6, "mean")
        assertClose(
            doubles(sumPerSample(a)), [x[0..<12].reduce(0, +), x[12..<24].reduce(0, +)], tolerance: 1e-6, "sumPerSample"
        )
        var channelSums = [Double](repeating: 0, count: 8), perChannel = [Double](repeating: 0, count: 3)
        for s in 0..<2 {
            for c in 0..<3 {
                for p in 0..<4 {
                    channelSums[s * 4 + p] += x[(s * 3 + c) * 4 + p]
                    perChannel[c] += x[(s * 3 + c) * 4 + p]
                }
            }
        }
        assertClose(doubles(sumChannels(a)), channelSums, tolerance: 1e-6, "sumChannels")
        assertClose(doubles(sumToChannels(a)), perChannel, tolerance: 1e-6, "sumToChannels")
        let bias = Tensor(shape: [3], values: [1, -2, 3])
        let biasValues: [Double] = [1, -2, 3]
        let biased = (0..<24).map { i -> Double in x[i] + biasValues[(i / 4) % 3] }
        assertClose(doubles(addBias(a, bias)), biased, tolerance: 1e-6, "addBias")
        let perSample = Tensor(shape: [2], values: [2, -1])
        assertClose(
            doubles(broadcastPerSample(perSample, to: [2, 3])), [2, 2, 2, -1, -1, -1], tolerance: 0,
            "broadcastPerSample")
        let plane = Tensor(shape: [1, 1, 1, 2], values: [4, 5])
        assertClose(doubles(broadcastChannels(plane, channels: 2)), [4, 5, 4, 5], tolerance: 0, "broadcastChannels")

        checkGradients([a], "sum") { sum($0[0]) }
        checkGradients([a], "sumPerSample") { sumPerSample($0[0]) }
        checkGradients([a], "sumChannels") { sumChannels($0[0]) }
        checkGradients([a], "sumToChannels") { sumToChannels($0[0]) }
        checkGradients([a, bias], "addBias") { addBias($0[0], $0[1]) }
        checkGradients([perSample], "broadcastPerSample") { broadcastPerSample($0[0], to: [2, 3]) }
        checkGradients([plane], "broadcastChannels") { broadcastChannels($0[0], channels: 3) }
        checkSecondOrder([a, bias], "addBias") { square(addBias($0[0], $0[1])) }
        checkSecondOrder([a], "sumToChannels") { square(sumToChannels(square($0[0]))) }
    }

    func testLayoutOps() {
        let x = doubles(a), y = doubles(b)
        let joined = concatChannels([a, b])
        XCTAssertEqual(joined.shape, [2, 6, 2, 2])
        assertClose(doubles(joined), Array(x[0..<12] + y[0..<12] + x[12..<24] + y[12..<24]), tolerance: 0, "concat")
        assertClose(doubles(sliceChannels(joined, from: 3, count: 3)), y, tolerance: 0, "slice")
        XCTAssertEqual(reshape(a, [6, 4]).shape, [6, 4])
        checkGradients([a, b], "concatChannels") { concatChannels([$0[0], $0[1]]) }
        checkGradients([a], "sliceChannels") { sliceChannels($0[0], from: 1, count: 1) }
        checkGradients([a], "reshape") { reshape($0[0], [4, 6]) }
        checkSecondOrder([a, b], "concatChannels") { square(concatChannels([$0[0], $0[1]])) }
    }

    func testResampling() {
        let x = randomTensor([2, 2, 4, 6], seed: 3)
        assertClose(doubles(upsample2x(x)), Reference.upsample2x(doubles(x), x.shape), tolerance: 0, "upsample2x")
        assertClose(doubles(avgPool2x2(x)), Reference.avgPool2x2(doubles(x), x.shape), tolerance: 1e-7, "avgPool2x2")
        checkGradients([x], "upsample2x") { upsample2x($0[0]) }
        checkGradients([x], "avgPool2x2") { avgPool2x2($0[0]) }
        checkSecondOrder([x], "avgPool2x2") { square(avgPool2x2($0[0])) }
        checkSecondOrder([x], "upsample2x") { square(upsample2x($0[0])) }
    }

    /// The fused fade-in ops against the compositions they replace, and their gradients.
    func testFadeIns() {
        let fine = randomTensor([2, 3, 4, 6], seed: 6), coarse = randomTensor([2, 3, 2, 3], seed: 7)
        for alpha: Float in [0, 0.3, 1] {
            assertClose(
                doubles(fadeIn(upsampling: coarse, into: fine, alpha: alpha)),
                doubles(lerp(upsample2x(coarse), fine, alpha)), tolerance: 1e-6, "fadeIn α=\(alpha)")
            assertClose(
                doubles(fadeTowardCoarse(fine, alpha: alpha)),
                doubles(lerp(upsample2x(avgPool2x2(fine)), fine, alpha)), tolerance: 1e-6,
                "fadeTowardCoarse α=\(alpha)")
        }
        checkGradients([coarse, fine], "fadeIn") { fadeIn(upsampling: $0[0], into: $0[1], alpha: 0.3) }
        checkGradients([fine], "fadeTowardCoarse") { fadeTowardCoarse($0[0], alpha: 0.3) }
        checkSecondOrder([coarse, fine], "fadeIn") { square(fadeIn(upsampling: $0[0], into: $0[1], alpha: 0.3)) }
        checkSecondOrder([fine], "fadeTowardCoarse") { square(fadeTowardCoarse($0[0], alpha: 0.3)) }
    }

    func testMatmul() {
        let p = randomTensor([3, 4], seed: 4), q = randomTensor([4, 5], seed: 5)
        let expected = Reference.matmul(doubles(p), doubles(q), m: 3, k: 4, n: 5)
        assertClose(doubles(matmul(p, q)), expected, tolerance: 1e-6, "matmul")
        let pt = Tensor(shape: [4, 3], values: (0..<12).map { p[($0 % 3) * 4 + $0 / 3] })
        let qt = Tensor(shape: [5, 4], values: (0..<20).map { q[($0 % 4) * 5 + $0 / 4] })
        assertClose(doubles(matmul(pt, q, transposeA: true)), expected, tolerance: 1e-6, "matmul Aᵀ")
        assertClose(doubles(matmul(p, qt, transposeB: true)), expected, tolerance: 1e-6, "matmul Bᵀ")
        assertClose(
            doubles(matmul(pt, qt, transposeA: true, transposeB: true)), expected, tolerance: 1e-6, "matmul AᵀBᵀ")
        checkGradients([p, q], "matmul") { matmul($0[0], $0[1]) }
        checkGradients([pt, q], "matmul Aᵀ") { matmul($0[0], $0[1], transposeA: true) }
        checkGradients([p, qt], "matmul Bᵀ") { matmul($0[0], $0[1], transposeB: true) }
        checkGradients([pt, qt], "matmul AᵀBᵀ") { matmul($0[0], $0[1], transposeA: true, transposeB: true) }
        checkSecondOrder([p, q], "matmul") { square(matmul($0[0], $0[1])) }
        checkSecondOrder([p, qt], "matmul Bᵀ") { square(matmul($0[0], $0[1], transposeB: true)) }
    }

    func testPixelNorm() {
        let x = randomTensor([2, 4, 3, 3], seed: 8)
        assertClose(doubles(pixelNorm(x)), Reference.pixelNorm(doubles(x), x.shape), tolerance: 1e-6, "pixelNorm")
        let latent = randomTensor([3, 5], seed: 9)
        assertClose(
            doubles(pixelNorm(latent)), Reference.pixelNorm(doubles(latent), latent.shape), tolerance: 1e-6,
            "pixelNorm 2-D")
        checkGradients([x], step: 1e-3, "pixelNorm") { pixelNorm($0[0]) }
        checkSecondOrder([x], step: 1e-3, "pixelNorm") { pixelNorm($0[0]) }
    }

    func testMinibatchStddev() {
        let x = randomTensor([8, 3, 2, 2], seed: 10)
        for group in [1, 2, 4, 8] {
            let y = minibatchStddev(x, groupSize: group)
            XCTAssertEqual(y.shape, [8, 4, 2, 2])
            assertClose(
                doubles(y), Reference.minibatchStddev(doubles(x), x.shape, groupSize: group), tolerance: 1e-6,
                "minibatchStddev group \(group)")
        }
        checkGradients([x], step: 1e-3, "minibatchStddev") { minibatchStddev($0[0], groupSize: 4) }
        checkSecondOrder([x], step: 1e-3, "minibatchStddev") { minibatchStddev($0[0], groupSize: 4) }
    }

    /// Strided groups (pro_gan_pytorch's): group m holds samples m, m + N/G, ...; the same values as
    /// consecutive groups of the batch reordered so that those samples are adjacent.
    func testMinibatchStddevStridedGroups() {
        let x = randomTensor([8, 3, 2, 2], seed: 11)
        for group in [1, 2, 4, 8] {
            let y = minibatchStddev(x, groupSize: group, grouping: .strided)
            assertClose(
                doubles(y), Reference.minibatchStddev(doubles(x), x.shape, groupSize: group, strided: true),
                tolerance: 1e-6,
                "strided minibatchStddev group \(group)")
        }
        // Groups of 2 out of 8: strided pairs (0, 4), consecutive pairs (0, 1), so the statistics differ.
        let strided = minibatchStddev(x, groupSize: 2, grouping: .strided),
            consecutive = minibatchStddev(x, groupSize: 2)
        XCTAssertNotEqual(strided[3 * 4], consecutive[3 * 4])
        let pairOf0And4 = Tensor(shape: [2, 3, 2, 2], values: Array(x.scalars[0..<12] + x.scalars[48..<60]))
        XCTAssertEqual(strided[3 * 4], minibatchStddev(pairOf0And4, groupSize: 2)[3 * 4], accuracy: 1e-6)
        checkGradients([x], step: 1e-3, "strided minibatchStddev") {
            minibatchStddev($0[0], groupSize: 4, grouping: .strided)
        }
        checkSecondOrder([x], step: 1e-3, "strided minibatchStddev") {
            minibatchStddev($0[0], groupSize: 4, grouping: .strided)
        }
    }
}
