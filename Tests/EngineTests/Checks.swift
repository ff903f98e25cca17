import EngineTesting
import XCTest
@testable import Engine

/// Shared helpers: random inputs, error measures, and finite-difference gradient checks.

func randomTensor(_ shape: [Int], seed: UInt64, awayFromZero: Float = 0) -> Tensor {
    var rng = PhiloxRandom(seed: seed)
    let t = rng.normal(shape: shape)
    // Keeps samples off the kinks of leaky ReLU so central differences are valid.
    if awayFromZero > 0 {
        for i in 0..<t.count where abs(t.pointer[i]) < awayFromZero {
            t.pointer[i] = t.pointer[i] < 0 ? -awayFromZero - abs(t.pointer[i]) : awayFromZero + t.pointer[i]
        }
    }
    return t
}

func doubles(_ t: Tensor) -> [Double] { t.scalars.map(Double.init) }

/// ||a - b|| / max(||b||, 1e-3): a norm-wise relative error, robust to individual tiny entries; the floor
/// turns it into an absolute error where the expected values are all (numerically) zero.
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) values")
    var diff = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
        diff += (x - y) * (x - y)
        norm += y * y
    }
    return diff.squareRoot() / max(norm.squareRoot(), 1e-3)
}

func assertClose(
    _ actual: [Double], _ expected: [Double], tolerance: Double, _ message: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "\(message): sizes differ", file: file, line: line)
    let error = relativeError(actual, expected)
    XCTAssertLessThanOrEqual(error, tolerance, "\(message): relative error \(error)", file: file, line: line)
}

/// <f(inputs), weights> in Double: a scalar that depends on every output element.
private func weightedSum(_ output: Tensor, _ weights: [Double]) -> Double {
    zip(output.scalars, weights).reduce(0) { $0 + Double($1.0) * $1.1 }
}

/// Checks `analytic` (the derivative of `value` with respect to every element of `input`) against
/// central differences; at most a tenth of the elements may be left out for crossing a kink.
private func compareWithDifferences(
    _ analytic: Tensor, _ input: Tensor, step: Float, tolerance: Double, _ label: String,
    file: StaticString, line: UInt, _ value: () -> Double
) {
    let result = FiniteDifferences.compare(
        analytic: doubles(analytic), indices: Array(0..<input.count), of: input.pointer,
        step: step, value: value)
    XCTAssertLessThanOrEqual(
        result.skipped * 10, input.count, "\(label): too many kinks crossed", file: file, line: line)
    XCTAssertLessThanOrEqual(
        result.relativeError, tolerance, "\(label): relative error \(result.relativeError)", file: file, line: line)
}

/// Checks the gradients of L = <f(x...), R> with respect to every input against central differences.
/// Differences are taken in float32 with step `step`, so tolerances are about 1e-2 by norm.
func checkGradients(
    _ inputs: [Tensor], step: Float = 1e-2, tolerance: Double = 1e-2, _ name: String,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor
) {
    let leaves = inputs.map { $0.requiringGradient() }
    let output = f(leaves)
    var rng = PhiloxRandom(seed: 99)
    let weights = rng.normal(shape: output.shape)
    let analytic = grad(of: sum(mul(output, weights)), wrt: leaves)
    let weightValues = doubles(weights)
    for (index, input) in inputs.enumerated() {
        compareWithDifferences(
            analytic[index], input, step: step, tolerance: tolerance, "\(name): gradient of input \(index)",
            file: file, line: line
        ) {
            withoutGradients { weightedSum(f(inputs), weightValues) }
        }
    }
}

/// Checks second derivatives as the gradient penalty uses them: the gradient of
/// P(x, θ) = Σ_i R2_i (∂L/∂x)_i², L = <f(x, θ), R>, computed by differentiating the recorded first
/// gradient, against central differences of P evaluated (in Double) from the analytic first gradient.
/// `inputs[0]` is x; the rest are θ.
func checkSecondOrder(
    _ inputs: [Tensor], step: Float = 1e-3, tolerance: Double = 2e-2, _ name: String,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor
) {
    let penalty = SecondOrderProbe(inputs, f)
    let analytic = penalty.gradients(inputs, f)
    for (index, input) in inputs.enumerated() {
        compareWithDifferences(
            analytic[index], input, step: step, tolerance: tolerance,
            "\(name): second derivative for input \(index)", file: file, line: line
        ) {
            let g = penalty.inputGradient(inputs.map { $0.requiringGradient() }, f, createGraph: false).scalars
            return zip(g, penalty.probe.scalars).reduce(0) { $0 + Double($1.1) * Double($1.0) * Double($1.0) }
        }
    }
}

/// P(x, θ) = Σ_i R2_i (∂L/∂x)_i², L = <f(x, θ), R>, with fixed random R and R2 for f's shapes.
struct SecondOrderProbe {
    let weights: Tensor, probe: Tensor

    init(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) {
        var rng = PhiloxRandom(seed: 7)
        weights = rng.normal(shape: withoutGradients { f(inputs).shape })
        probe = rng.normal(shape: inputs[0].shape)
    }

    func inputGradient(_ leaves: [Tensor], _ f: ([Tensor]) -> Tensor, createGraph: Bool) -> Tensor {
        grad(of: sum(mul(f(leaves), weights)), wrt: [leaves[0]], createGraph: createGraph)[0]
    }

    /// ∂P/∂ every input, by differentiating the recorded first gradient.
    func gradients(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> [Tensor] {
        let leaves = inputs.map { $0.requiringGradient() }
        return grad(of: sum(mul(square(inputGradient(leaves, f, createGraph: true)), probe)), wrt: leaves)
    }
}
