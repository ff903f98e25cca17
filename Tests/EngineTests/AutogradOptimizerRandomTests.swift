import Foundation
import XCTest
@testable import Engine

final class AutogradTests: XCTestCase {
    /// The double backward of a small discriminator-like chain (conv -> lrelu -> minibatch stddev ->
    /// conv -> avgpool -> dense), as the WGAN-GP penalty uses it: on the im2col path against finite
    /// differences of the analytic first gradient, for the input and every weight; on the Winograd path,
    /// whose float32 rounding (about 1e-5 relative) differences at this step cannot resolve, against
    /// the im2col path's second derivatives.
    func testDoubleBackwardOfDiscriminatorChain() {
        let x = randomTensor([4, 2, 4, 4], seed: 1)
        let w1 = scale(randomTensor([3, 2, 3, 3], seed: 2), 0.5)
        let w2 = scale(randomTensor([2, 4, 3, 3], seed: 3), 0.5)
        let w3 = scale(randomTensor([1, 8], seed: 4), 0.5)
        let inputs = [x, w1, w2, w3]
        let chain: ([Tensor]) -> Tensor = { v in
            let h = leakyRelu(conv2d(v[0], v[1], padding: 1))
            let s = minibatchStddev(h, groupSize: 2)
            let pooled = avgPool2x2(leakyRelu(conv2d(s, v[2], padding: 1)))
            return matmul(reshape(pooled, [4, 8]), v[3], transposeB: true)
        }
        ConvAlgorithm.forcing(.im2col) { checkSecondOrder(inputs, "D chain", chain) }
        let probe = SecondOrderProbe(inputs, chain)
        let im2col = ConvAlgorithm.forcing(.im2col) { probe.gradients(inputs, chain) }
        let winograd = ConvAlgorithm.forcing(.winograd) { probe.gradients(inputs, chain) }
        for (index, (a, b)) in zip(winograd, im2col).enumerated() {
            assertClose(doubles(a), doubles(b), tolerance: 1e-4, "D chain: Winograd second derivative for input \(index)")
        }
    }

    /// ||∂D/∂x||² penalty on the same chain: gradients reach every weight and match differences.
    func testGradientPenaltyGradient() {
        let x = randomTensor([2, 1, 4, 4], seed: 11)
        let w1 = randomTensor([2, 1, 3, 3], seed: 12)
        let w2 = randomTensor([1, 8], seed: 13)
        func penalty(_ v: [Tensor], createGraph: Bool) -> Tensor {
            let input = v[0].requiringGradient()
            let score = matmul(reshape(avgPool2x2(leakyRelu(conv2d(input, v[1], padding: 1))), [2, 8]), v[2], transposeB: true)
            let gradient = grad(of: sum(score), wrt: [input], createGraph: createGraph)[0]
            return sum(square(sub(sqrt(sumPerSample(square(gradient))), Tensor(shape: [2], repeating: 1))))
        }
        let weights = [w1.requiringGradient(), w2.requiringGradient()]
        let analytic = grad(of: penalty([x] + weights, createGraph: true), wrt: weights)
        for (index, weight) in [w1, w2].enumerated() {
            var numeric = [Double](repeating: 0, count: weight.count)
            for i in 0..<weight.count {
                let saved = weight.pointer[i]
                weight.pointer[i] = saved + 1e-2
                let plus = Double(penalty([x, w1, w2], createGraph: false).scalar)
                weight.pointer[i] = saved - 1e-2
                let minus = Double(penalty([x, w1, w2], createGraph: false).scalar)
                weight.pointer[i] = saved
                numeric[i] = (plus - minus) / 2e-2
            }
            assertClose(doubles(analytic[index]), numeric, tolerance: 2e-2, "penalty gradient of weight \(index)")
        }
    }

    func testBackwardAccumulatesIntoParameterStore() {
        var layout = ParameterLayout()
        let w = layout.declare("w", shape: [2, 3])
        let v = layout.declare("v", shape: [3])
        let store = ParameterStore(layout: layout)
        store.initialize { parameter, values in for i in values.indices { values[i] = Float(i + parameter.offset) * 0.1 } }
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        // loss = sum(x · wᵀ) + sum(v²) twice: the gradient accumulates over calls.
        for _ in 0..<2 { backward(add(sum(matmul(x, store.tensor(w), transposeB: true)), sum(square(store.tensor(v))))) }
        XCTAssertEqual(store.gradient(w).scalars, [2, 4, 6, 2, 4, 6])
        XCTAssertEqual(store.gradient(v).scalars.map { ($0 * 100).rounded() / 100 }, [2.4, 2.8, 3.2])
        store.zeroGradients()
        XCTAssertEqual(store.gradients.pointer[0], 0)
        XCTAssertEqual(v.offset, 6, "parameters are laid out in declaration order")
    }

    func testGradientOfUnusedInputIsZeroAndRecordingCanBeOff() {
        let x = randomTensor([3], seed: 1).requiringGradient(), unused = randomTensor([2], seed: 2).requiringGradient()
        let grads = grad(of: sum(square(x)), wrt: [x, unused])
        XCTAssertEqual(grads[1].scalars, [0, 0])
        XCTAssertEqual(grads[0].scalars, x.scalars.map { 2 * $0 })
        let untracked = withoutGradients { square(x) }
        XCTAssertFalse(untracked.requiresGradient)
        XCTAssertFalse(grads[0].requiresGradient, "without createGraph a gradient is a plain value")
    }
}

final class AdamTests: XCTestCase {
    /// Two steps computed by hand from the update rule with bias correction.
    func testStepsMatchHandComputation() {
        let adam = Adam(count: 2, beta1: 0.5, beta2: 0.9, epsilon: 1e-8)
        var parameters: [Float] = [1, -1]
        let gradientsPerStep: [[Float]] = [[0.5, -2], [1, 0]]
        var expected: [Double] = [1, -1], m: [Double] = [0, 0], v: [Double] = [0, 0]
        for (t, gradients) in gradientsPerStep.enumerated() {
            parameters.withUnsafeMutableBufferPointer { p in
                adam.update(parameters: p.baseAddress!, gradients: gradients, count: 2, learningRate: 0.1)
            }
            for i in 0..<2 {
                let g = Double(gradients[i])
                m[i] = 0.5 * m[i] + 0.5 * g
                v[i] = 0.9 * v[i] + 0.1 * g * g
                let mHat = m[i] / (1 - pow(0.5, Double(t + 1))), vHat = v[i] / (1 - pow(0.9, Double(t + 1)))
                expected[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            }
            for i in 0..<2 { XCTAssertEqual(Double(parameters[i]), expected[i], accuracy: 1e-6, "step \(t + 1), parameter \(i)") }
        }
        // First step of Adam moves every parameter by about the learning rate, against its gradient's sign.
        XCTAssertEqual(adam.step, 2)
        adam.reset()
        XCTAssertEqual(adam.step, 0)
        XCTAssertEqual(adam.firstMoment.pointer[0], 0)
    }

    func testUpdatesOnlyTheActivePrefix() {
        let adam = Adam(count: 3)
        var parameters: [Float] = [1, 1, 1]
        parameters.withUnsafeMutableBufferPointer { p in
            adam.update(parameters: p.baseAddress!, gradients: [1, 1, 1], count: 2, learningRate: 0.01)
        }
        XCTAssertEqual(parameters[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(parameters[2], 1)
    }
}

final class RandomTests: XCTestCase {
    /// Known-answer vectors of Philox-4x32-10 from the Random123 distribution (kat_vectors).
    func testPhiloxKnownAnswers() {
        func words(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> [UInt32] {
            let block = PhiloxRandom.block(counter: (UInt64(counter.0) | UInt64(counter.1) << 32, UInt64(counter.2) | UInt64(counter.3) << 32),
                                           key: UInt64(key.0) | UInt64(key.1) << 32)
            return [block.0, block.1, block.2, block.3]
        }
        XCTAssertEqual(words((0, 0, 0, 0), key: (0, 0)), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        XCTAssertEqual(words((0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), key: (0xffff_ffff, 0xffff_ffff)),
                       [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        XCTAssertEqual(words((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0)),
                       [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    func testStreamsAreReproducibleAndRestorable() {
        var first = PhiloxRandom(seed: 42), second = PhiloxRandom(seed: 42)
        let a = (0..<10).map { _ in first.nextUInt32() }
        XCTAssertEqual(a, (0..<10).map { _ in second.nextUInt32() })
        var other = PhiloxRandom(seed: 43)
        XCTAssertNotEqual(a, (0..<10).map { _ in other.nextUInt32() })
        // Restoring the saved state continues the same stream.
        var saved = first
        let continued = (0..<5).map { _ in first.uniform() }
        let data = try! JSONEncoder().encode(saved)
        saved = try! JSONDecoder().decode(PhiloxRandom.self, from: data)
        XCTAssertEqual(continued, (0..<5).map { _ in saved.uniform() })
        XCTAssertNotEqual(first.substream(1), first.substream(2))
    }

    func testDistributions() {
        var rng = PhiloxRandom(seed: 1)
        let normal = rng.normal(shape: [20000]).scalars.map(Double.init)
        let mean = normal.reduce(0, +) / 20000, variance = normal.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20000
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let uniform = rng.uniform(shape: [20000]).scalars
        XCTAssertTrue(uniform.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(uniform.reduce(0, +)) / 20000, 0.5, accuracy: 0.01)
        let order = rng.permutation(100)
        XCTAssertEqual(order.sorted(), Array(0..<100))
        XCTAssertNotEqual(order, Array(0..<100))
    }
}
