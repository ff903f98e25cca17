/// y = epilogue(conv(x, w)): through Winograd where `g.algorithm` says so, otherwise per slab one GEMM
/// [O, patch] · [patch, slab columns].
public func convForwardKernel(
    input: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, epilogue: ConvEpilogue = .identity
) {
    if g.algorithm == .winograd {
        return winogradForward(input: input, filter: filter, output: output, g, epilogue: epilogue)
    }
    im2colForward(input: input, filter: filter, output: output, g, epilogue: epilogue)
}

/// dx = convᵀ(dy, w), through Winograd or im2col as `g.algorithm` says.
public func convBackwardDataKernel(
    outputGradient: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    if g.algorithm == .winograd {
        return winogradBackwardData(outputGradient: outputGradient, filter: filter, inputGradient: inputGradient, g)
    }
    im2colBackwardData(outputGradient: outputGradient, filter: filter, inputGradient: inputGradient, g)
}

/// dw = Σ dy ⊛ x over the batch, through Winograd or im2col as `g.algorithm` says.
public func convBackwardFilterKernel(
    input: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
    filterGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    if g.algorithm == .winograd {
        return winogradBackwardFilter(input: input, outputGradient: outputGradient, filterGradient: filterGradient, g)
    }
    im2colBackwardFilter(input: input, outputGradient: outputGradient, filterGradient: filterGradient, g)
}

// MARK: - Differentiable ops
//
// The three convolution maps are bilinear and close under differentiation: the adjoint of each with
// respect to either argument is one of the other two. That is what makes double backward through D
// (for the gradient penalty) exact and as fast as the first backward.

private func geometry(input: [Int], filter: [Int], padding: Int) -> ConvGeometry {
    precondition(input.count == 4 && filter.count == 4, "conv: input \(input) and filter \(filter) must be 4-D")
    precondition(input[1] == filter[1], "conv: input has \(input[1]) channels, filter expects \(filter[1])")
    precondition(filter[2] == filter[3], "conv: only square kernels, got \(filter)")
    return ConvGeometry(
        batch: input[0], inChannels: input[1], height: input[2], width: input[3],
        outChannels: filter[0], kernel: filter[2], padding: padding)
}

/// 2-D convolution, stride 1: [N, C, H, W] ⊛ [O, C, k, k] -> [N, O, H + 2p - k + 1, W + 2p - k + 1].
public func conv2d(_ x: Tensor, _ filter: Tensor, padding: Int) -> Tensor {
    let g = geometry(input: x.shape, filter: filter.shape, padding: padding)
    let out = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth])
    convForwardKernel(input: x.pointer, filter: filter.pointer, output: out.pointer, g)
    return makeResult(
        out, inputs: [x, filter],
        selectivePullback: { dy, _, needed in
            [
                needed[0] ? conv2dBackwardData(dy, filter, inputShape: x.shape, padding: padding) : nil,
                needed[1] ? conv2dBackwardFilter(x, dy, kernel: filter.shape[2], padding: padding) : nil,
            ]
        })
}

/// The gradient of `conv2d` with respect to its input.
public func conv2dBackwardData(_ outputGradient: Tensor, _ filter: Tensor, inputShape: [Int], padding: Int) -> Tensor {
    let g = geometry(input: inputShape, filter: filter.shape, padding: padding)
    precondition(
        outputGradient.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth],
        "conv2dBackwardData: gradient \(outputGradient.shape) for input \(inputShape)")
    let out = Tensor(uninitialized: inputShape)
    convBackwardDataKernel(
        outputGradient: outputGradient.pointer, filter: filter.pointer, inputGradient: out.pointer, g)
    return makeResult(
        out, inputs: [outputGradient, filter],
        selectivePullback: { dx, _, needed in
            [
                needed[0] ? conv2d(dx, filter, padding: padding) : nil,
                needed[1] ? conv2dBackwardFilter(dx, outputGradient, kernel: filter.shape[2], padding: padding) : nil,
            ]
        })
}

/// The gradient of `conv2d` with respect to its filter.
public func conv2dBackwardFilter(_ x: Tensor, _ outputGradient: Tensor, kernel: Int, padding: Int) -> Tensor {
    let filterShape = [outputGradient.shape[1], x.shape[1], kernel, kernel]
    let g = geometry(input: x.shape, filter: filterShape, padding: padding)
    precondition(
        outputGradient.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth],
        "conv2dBackwardFilter: gradient \(outputGradient.shape) for input \(x.shape)")
    let out = Tensor(uninitialized: filterShape)
    convBackwardFilterKernel(input: x.pointer, outputGradient: outputGradient.pointer, filterGradient: out.pointer, g)
    return makeResult(
        out, inputs: [x, outputGradient],
        selectivePullback: { dw, _, needed in
            [
                needed[0] ? conv2dBackwardData(outputGradient, dw, inputShape: x.shape, padding: padding) : nil,
                needed[1] ? conv2d(x, dw, padding: padding) : nil,
            ]
        })
}

/// leakyRelu(conv2d(x, w) + bias) with the bias and activation applied by the conv kernel as it writes
/// the output: one pass and one tensor instead of three. The pullback is written with recorded ops, so
/// it differentiates again like the unfused chain.
public func conv2dBiasLeakyRelu(_ x: Tensor, _ filter: Tensor, bias: Tensor, padding: Int, slope: Float) -> Tensor {
    let g = geometry(input: x.shape, filter: filter.shape, padding: padding)
    precondition(
        bias.shape == [g.outChannels], "conv2dBiasLeakyRelu: bias \(bias.shape) for \(g.outChannels) output channels")
    let out = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth])
    convForwardKernel(
        input: x.pointer, filter: filter.pointer, output: out.pointer, g,
        epilogue: ConvEpilogue(bias: bias.pointer, slope: slope))
    return makeResult(
        out, inputs: [x, filter, bias],
        selectivePullback: { dy, output, needed in
            // The output is positive exactly where the pre-activation is (for any slope >= 0), so it serves
            // as the mask.
            let preActivation = leakyReluGradient(dy, input: output, slope: slope)
            return [
                needed[0] ? conv2dBackwardData(preActivation, filter, inputShape: x.shape, padding: padding) : nil,
                needed[1] ? conv2dBackwardFilter(x, preActivation, kernel: filter.shape[2], padding: padding) : nil,
                needed[2] ? sumToChannels(preActivation) : nil,
            ]
        })
}
