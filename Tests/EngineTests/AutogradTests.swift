import Foundation
import XCTest
@testable import Engine

final class AutogradTests: XCTestCase {
    /// The double backward of a small discriminator-like chain (conv -> lrelu -> minibatch stddev ->
    /// conv -> avgpool -> dense), as the WGAN-GP penalty uses it: on the im2col path against finite
    /// differences of the analytic first gradient, for the input and every weight; on the Winograd path,
    /// whose float32 rounding (about 1e-5 relative) differences at this step cannot resolve, against
    /// the im2col path's second derivatives. The differences start at a step of 3e-3 (then 1e-3 and 3e-4
    /// where that crosses a kink): at 1e-3 the float32 rounding of the first gradient, which differs
    /// between OpenBLAS's kernels for each CPU, moved one difference of x by 5% on an AVX-512 machine.
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
        ConvAlgorithm.forcing(.im2col) { checkSecondOrder(inputs, step: 3e-3, "D chain", chain) }
        let probe = SecondOrderProbe(inputs, chain)
        let im2col = ConvAlgorithm.forcing(.im2col) { probe.gradients(inputs, chain) }
        let winograd = ConvAlgorithm.forcing(.winograd) { probe.gradients(inputs, chain) }
        for (index, (a, b)) in zip(winograd, im2col).enumerated() {
            assertClose(
                doubles(a), doubles(b), tolerance: 1e-4, "D chain: Winograd second derivative for input \(index)")
        }
    }

    /// ||∂D/∂x||² penalty on the same chain: gradients reach every weight and match differences.
    func testGradientPenaltyGradient() {
        let x = randomTensor([2, 1, 4, 4], seed: 11)
        let w1 = randomTensor([2, 1, 3, 3], seed: 12)
        let w2 = randomTensor([1, 8], seed: 13)
        func penalty(_ v: [Tensor], createGraph: Bool) -> Tensor {
            let input = v[0].requiringGradient()
            let score = matmul(
                reshape(avgPool2x2(leakyRelu(conv2d(input, v[1], padding: 1))), [2, 8]), v[2], transposeB: true)
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
        store.initialize { parameter, values in
            for i in values.indices { values[i] = Float(i + parameter.offset) * 0.1 }
        }
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        // loss = sum(x · wᵀ) + sum(v²) twice: the gradient accumulates over calls.
        for _ in 0..<2 {
            backward(add(sum(matmul(x, store.tensor(w), transposeB: true)), sum(square(store.tensor(v)))))
        }
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
