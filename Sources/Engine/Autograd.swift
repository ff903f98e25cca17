/// Reverse-mode automatic differentiation over a dynamically recorded graph.
///
/// Every op's backward rule is written with other recorded ops, so a gradient computed with
/// `createGraph: true` is itself a graph node and can be differentiated again. That is what the
/// WGAN-GP and R1 penalties need: d/dθ of ||∂D(x)/∂x||².
public enum GradientTape {
    /// Whether ops record their inputs and pullbacks. Off while computing gradients that need no
    /// second derivative, and in inference.
    public private(set) static var isRecording = true

    /// Runs `body` with recording switched to `recording`, restoring the previous mode afterwards.
    public static func withRecording<T>(_ recording: Bool, _ body: () throws -> T) rethrows -> T {
        let previous = isRecording
        isRecording = recording
        defer { isRecording = previous }
        return try body()
    }
}

/// Runs `body` without recording the graph (inference, EMA, metrics).
public func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
    try GradientTape.withRecording(false, body)
}

/// Builds the output tensor of an op: recorded with its pullback when any input requires a gradient
/// and the tape is recording, a plain value otherwise.
func makeResult(_ result: Tensor, inputs: [Tensor], pullback: @escaping (Tensor, Tensor) -> [Tensor?]) -> Tensor {
    guard GradientTape.isRecording, inputs.contains(where: { $0.requiresGradient }) else { return result }
    return Tensor(shape: result.shape, buffer: result.buffer, offset: result.offset,
                  inputs: inputs, pullback: pullback, requiresGradient: true)
}

/// Nodes reachable from `root` through recorded edges, ordered so each node precedes its inputs.
private func reverseTopologicalOrder(from root: Tensor) -> [Tensor] {
    var visited = Set<ObjectIdentifier>()
    var postOrder: [Tensor] = []
    // Iterative depth-first search: deep graphs (double backward of a large D) must not overflow the stack.
    var stack: [(node: Tensor, expanded: Bool)] = [(root, false)]
    while let (node, expanded) = stack.popLast() {
        if expanded { postOrder.append(node); continue }
        guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
        stack.append((node, true))
        for input in node.inputs where input.requiresGradient && !visited.contains(ObjectIdentifier(input)) {
            stack.append((input, false))
        }
    }
    return postOrder.reversed()
}

/// Propagates `seed` (the gradient of `root`) backwards; calls `reachedLeaf` for every leaf with its
/// total gradient and returns the gradients of the nodes listed in `keep`.
private func propagate(from root: Tensor, seed: Tensor, createGraph: Bool, keep: Set<ObjectIdentifier>,
                       reachedLeaf: (Tensor, Tensor) -> Void) -> [ObjectIdentifier: Tensor] {
    precondition(root.requiresGradient, "the differentiated tensor does not depend on anything that requires a gradient")
    precondition(seed.shape == root.shape, "seed shape \(seed.shape) differs from \(root.shape)")
    var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
    var kept: [ObjectIdentifier: Tensor] = [:]
    GradientTape.withRecording(createGraph) {
        for node in reverseTopologicalOrder(from: root) {
            let id = ObjectIdentifier(node)
            guard let gradient = pending.removeValue(forKey: id) else { continue }
            if keep.contains(id) { kept[id] = gradient }
            guard let pullback = node.pullback else {
                reachedLeaf(node, gradient)
                continue
            }
            let inputGradients = pullback(gradient, node)
            precondition(inputGradients.count == node.inputs.count, "pullback returned the wrong number of gradients")
            for (input, inputGradient) in zip(node.inputs, inputGradients) {
                guard input.requiresGradient, let inputGradient else { continue }
                precondition(inputGradient.shape == input.shape,
                             "gradient shape \(inputGradient.shape) differs from input shape \(input.shape)")
                let key = ObjectIdentifier(input)
                pending[key] = pending[key].map { add($0, inputGradient) } ?? inputGradient
            }
        }
    }
    return kept
}

/// Gradients of `output` (a scalar, or any tensor when `seed` is given) with respect to `inputs`.
/// With `createGraph` the results are recorded and can be differentiated again. An input that
/// `output` does not depend on gets a zero gradient.
public func grad(of output: Tensor, wrt inputs: [Tensor], seed: Tensor? = nil, createGraph: Bool = false) -> [Tensor] {
    let seed = seed ?? Tensor(shape: output.shape, repeating: 1)
    let kept = propagate(from: output, seed: seed, createGraph: createGraph,
                         keep: Set(inputs.map(ObjectIdentifier.init)), reachedLeaf: { _, _ in })
    return inputs.map { kept[ObjectIdentifier($0)] ?? Tensor(zeros: $0.shape) }
}

/// Accumulates (+=) the gradient of the scalar `loss` into the gradient buffers of the parameters it
/// depends on, as `loss.backward()` does in other frameworks. Zeroing gradients is a separate step.
public func backward(_ loss: Tensor) {
    precondition(loss.count == 1, "backward needs a scalar loss, got shape \(loss.shape)")
    _ = propagate(from: loss, seed: Tensor(shape: loss.shape, repeating: 1), createGraph: false, keep: []) { leaf, gradient in
        guard let sink = leaf.gradientSink else { return }
        let source = gradient.pointer
        for i in 0..<leaf.count { sink[i] += source[i] }
    }
}
