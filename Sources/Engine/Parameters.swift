/// What a parameter is to the layer that declares it; initialization and anything else that treats
/// kinds of parameters differently asks this, never the parameter's name.
public enum ParameterRole: Hashable, Sendable {
    /// Multiplies the layer's input (a dense matrix or a convolution kernel).
    case weight
    /// Added to the layer's output.
    case bias
}

/// A named slice of a network's flat parameter buffer.
public struct Parameter: Hashable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let role: ParameterRole
    public var count: Int { shape.reduce(1, *) }
}

/// Collects a network's parameters in the order they are declared. Declaring a growing network's
/// layers in growth order (4x4 block first) makes the parameters in use at any resolution a prefix of
/// the flat buffer, so the optimizer and the allreduce each touch one contiguous range.
public struct ParameterLayout {
    public private(set) var parameters: [Parameter] = []
    public private(set) var count = 0

    public init() {}

    public mutating func declare(_ name: String, shape: [Int], role: ParameterRole = .weight) -> Parameter {
        precondition(!parameters.contains { $0.name == name }, "parameter \(name) declared twice")
        precondition(shape.allSatisfy { $0 > 0 }, "parameter \(name) has shape \(shape)")
        let parameter = Parameter(name: name, shape: shape, offset: count, role: role)
        parameters.append(parameter)
        count += parameter.count
        return parameter
    }
}

/// One network's parameters and gradients, each in a single contiguous allocation with the same layout.
public final class ParameterStore {
    public let layout: ParameterLayout
    public let values: FloatBuffer
    public let gradients: FloatBuffer

    public init(layout: ParameterLayout) {
        self.layout = layout
        values = FloatBuffer(count: layout.count)
        gradients = FloatBuffer(count: layout.count)
    }

    public var count: Int { layout.count }

    /// The parameter as a differentiable leaf whose gradient `backward` adds into this store (or into
    /// `gradientsInto`, a buffer of the store's layout), or, when not `trainable`, as a constant (a
    /// network that only passes gradients through, as D in G's step).
    public func tensor(
        _ parameter: Parameter, trainable: Bool = true, gradientsInto: UnsafeMutablePointer<Float>? = nil
    ) -> Tensor {
        guard trainable else { return Tensor(shape: parameter.shape, buffer: values, offset: parameter.offset) }
        return Tensor(
            shape: parameter.shape, buffer: values, offset: parameter.offset, requiresGradient: true,
            gradientSink: (gradientsInto ?? gradients.pointer) + parameter.offset)
    }

    /// Copies all values from a store of the same layout.
    public func copyValues(from other: ParameterStore) {
        precondition(other.count == count, "copyValues: \(other.count) values into \(count)")
        values.pointer.update(from: other.values.pointer, count: count)
    }

    /// The parameter's current gradient (a view, no copy).
    public func gradient(_ parameter: Parameter) -> Tensor {
        Tensor(shape: parameter.shape, buffer: gradients, offset: parameter.offset)
    }

    public func zeroGradients() {
        gradients.pointer.initialize(repeating: 0, count: count)
    }

    /// Fills every parameter from `initializer` (called once per parameter with its name and a pointer
    /// to its values).
    public func initialize(_ initializer: (Parameter, UnsafeMutableBufferPointer<Float>) -> Void) {
        for parameter in layout.parameters {
            initializer(
                parameter, UnsafeMutableBufferPointer(start: values.pointer + parameter.offset, count: parameter.count))
        }
    }
}
