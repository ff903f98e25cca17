/// Reverse-mode automatic differentiation over a dynamically recorded graph.
///
/// Every op's backward rule is written with other recorded ops, so a gradient computed with
/// `createGraph: true` is itself a graph node and can be differentiated again. That is what the
/// WGAN-GP and R1 penalties need: d/dθ of ||∂D(x)/∂x||².
public enum GradientTape {
    /// Whether ops record their inputs and pullbacks, on the calling thread. Off while computing gradients
    /// that need no second derivative, and in inference.
    public static var isRecording: Bool { ThreadState.current.isRecording }

    /// Runs `body` with recording switched to `recording` on the calling thread, restoring the previous
    /// mode afterwards.
    public static func withRecording<T>(_ recording: Bool, _ body: () throws -> T) rethrows -> T {
        let state = ThreadState.current
        let previous = state.isRecording
        state.isRecording = recording
        defer { state.isRecording = previous }
        return try body()
    }
}

/// Runs `body` without recording the graph (inference, EMA, metrics).
public func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
    try GradientTape.withRecording(false, body)
}

/// Builds the output tensor of an op: recorded with its pullback when any input requires a gradient
/// and the tape is recording, a plain value otherwise.
func makeResult(_ result: Tensor, inputs: [Tensor], selectivePullback: @escaping Pullback) -> Tensor {
    guard GradientTape.isRecording, inputs.contains(where: { $0.requiresGradient }) else { return result }
    return Tensor(
        shape: result.shape, buffer: result.buffer, offset: result.offset,
        inputs: inputs, pullback: selectivePullback, requiresGradient: true)
}

/// For cheap ops, which compute every input's gradient and leave discarding the unneeded ones to the
/// caller.
func makeResult(_ result: Tensor, inputs: [Tensor], pullback: @escaping (Tensor, Tensor) -> [Tensor?]) -> Tensor {
    makeResult(result, inputs: inputs, selectivePullback: { gradient, output, _ in pullback(gradient, output) })
}

/// Nodes reachable from `root` through recorded edges, ordered so each node precedes its inputs.
private func reverseTopologicalOrder(from root: Tensor) -> [Tensor] {
    var visited = Set<ObjectIdentifier>()
    var postOrder: [Tensor] = []
    // Iterative depth-first search: deep graphs (double backward of a large D) must not overflow the stack.
    var stack: [(node: Tensor, expanded: Bool)] = [(root, false)]
    while let (node, expanded) = stack.popLast() {
        if expanded {
            postOrder.append(node)
            continue
        }
        guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
        stack.append((node, true))
        for input in node.inputs where input.requiresGradient && !visited.contains(ObjectIdentifier(input)) {
            stack.append((input, false))
        }
    }
    return postOrder.reversed()
}

/// Propagates `seed` (the gradient of `root`) backwards to the nodes for which `isTarget` holds; calls
/// `reachedTarget` with each target's total gradient. Only nodes on a path to a target get gradients,
/// so e.g. the input gradient of a penalty skips every weight gradient of the network.
private func propagate(
    from root: Tensor, seed: Tensor, createGraph: Bool, isTarget: (Tensor) -> Bool,
    reachedTarget: (Tensor, Tensor) -> Void
) {
    precondition(
        root.requiresGradient, "the differentiated tensor does not depend on anything that requires a gradient")
    precondition(seed.shape == root.shape, "seed shape \(seed.shape) differs from \(root.shape)")
    let order = reverseTopologicalOrder(from: root)
    var leadsToTarget = Set<ObjectIdentifier>()
    for node in order.reversed()
    where isTarget(node) || node.inputs.contains(where: { leadsToTarget.contains(ObjectIdentifier($0)) }) {
        leadsToTarget.insert(ObjectIdentifier(node))
    }
    var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
    GradientTape.withRecording(createGraph) {
        for node in order where leadsToTarget.contains(ObjectIdentifier(node)) {
            guard let gradient = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
            if isTarget(node) { reachedTarget(node, gradient) }
            guard let pullback = node.pullback else { continue }
            let needed = node.inputs.map { $0.requiresGradient && leadsToTarget.contains(ObjectIdentifier($0)) }
            let inputGradients = pullback(gradient, node, needed)
            precondition(inputGradients.count == node.inputs.count, "pullback returned the wrong number of gradients")
            for (index, (input, inputGradient)) in zip(node.inputs, inputGradients).enumerated() {
                guard needed[index], let inputGradient else { continue }
                precondition(
                    inputGradient.shape == input.shape,
                    "gradient shape \(inputGradient.shape) differs from input shape \(input.shape)")
                let key = ObjectIdentifier(input)
                pending[key] = pending[key].map { add($0, inputGradient) } ?? inputGradient
            }
        }
    }
}

/// Gradients of `output` (a scalar, or any tensor when `seed` is given) with respect to `inputs`.
/// With `createGraph` the results are recorded and can be differentiated again. An input that
/// `output` does not depend on gets a zero gradient.
public func grad(of output: Tensor, wrt inputs: [Tensor], seed: Tensor? = nil, createGraph: Bool = false) -> [Tensor] {
    let seed = seed ?? Tensor(shape: output.shape, repeating: 1)
    let targets = Set(inputs.map(ObjectIdentifier.init))
    var found: [ObjectIdentifier: Tensor] = [:]
    propagate(
        from: output, seed: seed, createGraph: createGraph, isTarget: { targets.contains(ObjectIdentifier($0)) },
        reachedTarget: { found[ObjectIdentifier($0)] = $1 })
    return inputs.map { found[ObjectIdentifier($0)] ?? Tensor(zeros: $0.shape) }
}

/// Accumulates (+=) the gradient of the scalar `loss` into the gradient buffers of the parameters it
/// depends on, as `loss.backward()` does in other frameworks. Zeroing gradients is a separate step.
///
/// `gradientIsFinal` is called with a parameter's gradient buffer as soon as the last use of that
/// parameter in the graph has been processed, while the rest of the backward pass still runs: the
/// moment a data-parallel trainer can start reducing it across ranks.
public func backward(_ loss: Tensor, gradientIsFinal: ((UnsafeMutablePointer<Float>) -> Void)? = nil) {
    precondition(loss.count == 1, "backward needs a scalar loss, got shape \(loss.shape)")
    // A parameter used by several forward passes (D on reals, fakes and the penalty's mixes) appears as
    // several leaves sharing one gradient buffer; it is final when all of them are done.
    var usesLeft: [UnsafeMutablePointer<Float>: Int] = [:]
    if gradientIsFinal != nil {
        for node in reverseTopologicalOrder(from: loss) {
            if let sink = node.gradientSink { usesLeft[sink, default: 0] += 1 }
        }
    }
    propagate(
        from: loss, seed: Tensor(shape: loss.shape, repeating: 1), createGraph: false,
        isTarget: { $0.gradientSink != nil }
    ) { leaf, gradient in
        let sink = leaf.gradientSink!, source = gradient.pointer
        parallelRanges(leaf.count, grain: elementwiseGrain) { range in
            for i in range { sink[i] += source[i] }
        }
        guard let gradientIsFinal else { return }
        usesLeft[sink, default: 1] -= 1
        if usesLeft[sink] == 0 { gradientIsFinal(sink) }
    }
}
