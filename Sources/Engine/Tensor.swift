import Glibc

/// Owns one aligned float allocation. Tensors are views into a buffer, so a network's parameters can
/// live in one flat allocation (one optimizer loop, one allreduce) while each layer sees its own shape.
public final class FloatBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Whether the storage goes back to `TensorMemory`'s pool when freed.
    let pooled: Bool

    public init(count: Int, zeroed: Bool = true, pooled: Bool = true) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        self.pooled = pooled
        pointer = pooled ? TensorMemory.take(count) : TensorMemory.systemAllocate(count)
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    deinit {
        if pooled { TensorMemory.give(pointer, count: count) } else { UnsafeMutableRawPointer(pointer).deallocate() }
    }
}

/// Maps the gradient of an op's output to gradients of its inputs (nil where `needed` is false).
typealias Pullback = (_ gradient: Tensor, _ output: Tensor, _ needed: [Bool]) -> [Tensor?]

/// A float32 tensor in row-major (NCHW for images) layout on contiguous storage, and a node of the
/// autograd graph. Values are never mutated after an op produced them, except parameters, which the
/// optimizer updates in place between steps.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    let buffer: FloatBuffer
    let offset: Int

    /// Set when this tensor was produced by a recorded op: its inputs and the rule that maps the
    /// gradient of this tensor to gradients of the inputs. The rule receives this tensor as `output`
    /// instead of capturing it, so the graph holds no reference cycles, and which inputs need a
    /// gradient at all, so costly ops can skip the others.
    let inputs: [Tensor]
    let pullback: Pullback?
    public let requiresGradient: Bool
    /// For parameters: where `backward` accumulates this leaf's gradient.
    let gradientSink: UnsafeMutablePointer<Float>?

    public var pointer: UnsafeMutablePointer<Float> { buffer.pointer + offset }

    init(
        shape: [Int], buffer: FloatBuffer, offset: Int = 0, inputs: [Tensor] = [],
        pullback: Pullback? = nil, requiresGradient: Bool = false,
        gradientSink: UnsafeMutablePointer<Float>? = nil
    ) {
        let count = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(offset + count <= buffer.count, "view \(shape) at \(offset) exceeds buffer of \(buffer.count)")
        self.shape = shape
        self.count = count
        self.buffer = buffer
        self.offset = offset
        self.inputs = inputs
        self.pullback = pullback
        self.requiresGradient = requiresGradient
        self.gradientSink = gradientSink
    }

    /// A new, uninitialised-to-zero tensor that owns its storage.
    public convenience init(zeros shape: [Int]) {
        self.init(shape: shape, buffer: FloatBuffer(count: shape.reduce(1, *)))
    }

    /// A tensor whose storage the caller fills completely before reading it.
    convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, buffer: FloatBuffer(count: shape.reduce(1, *), zeroed: false))
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, buffer: FloatBuffer(count: shape.reduce(1, *), zeroed: false))
        pointer.initialize(repeating: value, count: count)
    }

    /// A differentiable leaf whose gradient `grad(of:wrt:)` can return (e.g. the input of a penalty).
    public func requiringGradient() -> Tensor {
        Tensor(shape: shape, buffer: buffer, offset: offset, requiresGradient: true)
    }

    /// The same values, cut off from the graph.
    public func detached() -> Tensor {
        Tensor(shape: shape, buffer: buffer, offset: offset)
    }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(shape)")
        return pointer[0]
    }

    public subscript(index: Int) -> Float { pointer[index] }

    public var rank: Int { shape.count }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(count > 8 ? ", ..." : "")]"
    }
}
