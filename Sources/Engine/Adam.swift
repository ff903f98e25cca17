import Foundation

/// Adam (Kingma & Ba) with bias correction, as one loop over a flat parameter range (in fixed ranges
/// over the engine's threads).
public final class Adam {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public let firstMoment: FloatBuffer
    public let secondMoment: FloatBuffer
    /// Steps taken since the last reset; drives the bias correction.
    public private(set) var step = 0

    public init(count: Int, beta1: Float = 0, beta2: Float = 0.99, epsilon: Float = 1e-8) {
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
        firstMoment = FloatBuffer(count: count)
        secondMoment = FloatBuffer(count: count)
    }

    /// Updates `parameters[0..<count]` from `gradients[0..<count]`.
    public func update(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate: Float
    ) {
        precondition(count <= firstMoment.count, "Adam: \(count) parameters, state for \(firstMoment.count)")
        step += 1
        let correction1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let correction2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / correction1)
        let secondScale = Float(1 / correction2)
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let m = firstMoment.pointer, v = secondMoment.pointer
        parallelRanges(count, grain: elementwiseGrain) { range in
            for i in range {
                let g = gradients[i]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                parameters[i] -= stepSize * m[i] / ((v[i] * secondScale).squareRoot() + eps)
            }
        }
    }

    public func update(_ store: ParameterStore, count: Int? = nil, learningRate: Float) {
        update(
            parameters: store.values.pointer, gradients: store.gradients.pointer, count: count ?? store.count,
            learningRate: learningRate)
    }

    /// Forgets all moments, as ProGAN does when a resolution is added.
    public func reset() {
        step = 0
        firstMoment.pointer.initialize(repeating: 0, count: firstMoment.count)
        secondMoment.pointer.initialize(repeating: 0, count: secondMoment.count)
    }

    /// Restores the step counter when loading saved moments.
    public func restore(step: Int) { self.step = step }
}
