import Foundation

// Elementwise ops. Each forward is one pass over memory, shared out over the engine's threads in fixed
// ranges; each pullback is written with recorded ops so it can be differentiated again.

@inline(__always)
private func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let source = x.pointer, target = out.pointer
    parallelRanges(x.count, grain: elementwiseGrain) { range in
        for i in range { target[i] = f(source[i]) }
    }
    return out
}

@inline(__always)
private func zipMap(_ a: Tensor, _ b: Tensor, _ name: String, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.shape == b.shape, "\(name): shapes \(a.shape) and \(b.shape) differ")
    let out = Tensor(uninitialized: a.shape)
    let pa = a.pointer, pb = b.pointer, target = out.pointer
    parallelRanges(a.count, grain: elementwiseGrain) { range in
        for i in range { target[i] = f(pa[i], pb[i]) }
    }
    return out
}

public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    makeResult(zipMap(a, b, "add", +), inputs: [a, b]) { g, _ in [g, g] }
}

public func sub(_ a: Tensor, _ b: Tensor) -> Tensor {
    makeResult(zipMap(a, b, "sub", -), inputs: [a, b]) { g, _ in [g, scale(g, -1)] }
}

public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    makeResult(zipMap(a, b, "mul", *), inputs: [a, b]) { g, _ in [mul(g, b), mul(g, a)] }
}

public func div(_ a: Tensor, _ b: Tensor) -> Tensor {
    makeResult(zipMap(a, b, "div", /), inputs: [a, b]) { g, out in
        let ga = div(g, b)
        return [ga, scale(mul(ga, out), -1)]
    }
}

public func scale(_ x: Tensor, _ factor: Float) -> Tensor {
    makeResult(map(x) { $0 * factor }, inputs: [x]) { g, _ in [scale(g, factor)] }
}

public func addScalar(_ x: Tensor, _ value: Float) -> Tensor {
    makeResult(map(x) { $0 + value }, inputs: [x]) { g, _ in [g] }
}

public func square(_ x: Tensor) -> Tensor {
    makeResult(map(x) { $0 * $0 }, inputs: [x]) { g, _ in [mul(g, scale(x, 2))] }
}

public func sqrt(_ x: Tensor) -> Tensor {
    makeResult(map(x) { Foundation.sqrt($0) }, inputs: [x]) { g, out in [div(scale(g, 0.5), out)] }
}

/// `x * a + y * (1 - a)` written as the fade-in blend: `lerp(old, new, alpha)`.
public func lerp(_ from: Tensor, _ to: Tensor, _ t: Float) -> Tensor {
    makeResult(zipMap(from, to, "lerp") { $0 + t * ($1 - $0) }, inputs: [from, to]) { g, _ in
        [scale(g, 1 - t), scale(g, t)]
    }
}

/// Leaky ReLU; `slope` 0 gives ReLU.
public func leakyRelu(_ x: Tensor, slope: Float = 0.2) -> Tensor {
    makeResult(map(x) { $0 > 0 ? $0 : $0 * slope }, inputs: [x]) { g, _ in
        [leakyReluGradient(g, input: x, slope: slope)]
    }
}

public func relu(_ x: Tensor) -> Tensor { leakyRelu(x, slope: 0) }

/// `gradient * leakyRelu'(input)`: linear in `gradient`; the derivative with respect to `input` is zero
/// almost everywhere, so the input is treated as a constant mask.
func leakyReluGradient(_ gradient: Tensor, input: Tensor, slope: Float) -> Tensor {
    let out = zipMap(gradient, input, "leakyReluGradient") { $1 > 0 ? $0 : $0 * slope }
    return makeResult(out, inputs: [gradient]) { g, _ in [leakyReluGradient(g, input: input, slope: slope)] }
}

/// log(1 + e^x), computed without overflow for large |x|.
public func softplus(_ x: Tensor) -> Tensor {
    let out = map(x) { v in max(v, 0) + Foundation.log1p(Foundation.exp(-abs(v))) }
    return makeResult(out, inputs: [x]) { g, _ in [mul(g, sigmoid(x))] }
}

public func sigmoid(_ x: Tensor) -> Tensor {
    let out = map(x) { v in v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v)) }
    return makeResult(out, inputs: [x]) { g, out in [mul(g, sub(out, square(out)))] }
}
