// Reductions and broadcasts. All of them are one primitive pair on a 3-D view [outer, axis, inner]:
// `sumAxis` collapses the middle axis and `broadcastAxis` repeats it; each is the other's pullback.
// Sums over channels, pixels, samples or everything are reshapes around that pair.

/// Sums a [outer, axis, inner] view of `x` over its middle axis; the result has shape `resultShape`
/// (which must hold outer * inner elements).
///
/// Each sum runs along the axis in order, the threads sharing out the sums. Where there are too few sums
/// to share and the axis is long, the axis is cut into fixed chunks instead, whose partial sums are
/// then added in chunk order: a two-level tree fixed by the shape, whatever the thread count.
func sumAxis(_ x: Tensor, outer: Int, axis: Int, inner: Int, resultShape: [Int]) -> Tensor {
    precondition(outer * axis * inner == x.count, "sumAxis: \(outer)x\(axis)x\(inner) does not cover \(x.shape)")
    let out = Tensor(zeros: resultShape)
    precondition(out.count == outer * inner, "sumAxis: result shape \(resultShape) for \(outer)x\(inner)")
    let sums = outer * inner, chunk = max(1, elementwiseGrain / max(inner, 1))
    if sums < elementwiseGrain / 16 && axis >= 4 * chunk {
        let chunks = (axis + chunk - 1) / chunk
        let partials = Tensor(zeros: [chunks, outer, inner])
        parallelForEach(chunks) { index in
            let start = index * chunk
            accumulate(
                x.pointer, outer: outer, axis: axis, inner: inner, along: start..<min(axis, start + chunk),
                into: partials.pointer + index * sums, columns: 0..<inner)
        }
        for index in 0..<chunks {
            let partial = partials.pointer + index * sums
            for i in 0..<sums { out.pointer[i] += partial[i] }
        }
    } else {
        let innerGrain = max(1, elementwiseGrain / max(axis, 1)), innerBlocks = (inner + innerGrain - 1) / innerGrain
        parallelForEach(outer * innerBlocks, itemSize: axis * min(inner, innerGrain)) { block in
            let (o, columnBlock) = block.quotientAndRemainder(dividingBy: innerBlocks)
            let columns = (columnBlock * innerGrain)..<min(inner, (columnBlock + 1) * innerGrain)
            accumulate(
                x.pointer + o * axis * inner, outer: 1, axis: axis, inner: inner, along: 0..<axis,
                into: out.pointer + o * inner, columns: columns)
        }
    }
    let inputShape = x.shape
    return makeResult(out, inputs: [x]) { g, _ in
        [broadcastAxis(g, outer: outer, axis: axis, inner: inner, resultShape: inputShape)]
    }
}

/// Adds rows `along` of the middle axis of a [outer, axis, inner] view, columns `columns` of each, onto
/// the [outer, inner] `sums`, in axis order.
private func accumulate(
    _ source: UnsafePointer<Float>, outer: Int, axis: Int, inner: Int, along rows: Range<Int>,
    into sums: UnsafeMutablePointer<Float>, columns: Range<Int>
) {
    for o in 0..<outer {
        let row = sums + o * inner
        for a in rows {
            let column = source + (o * axis + a) * inner
            for i in columns { row[i] += column[i] }
        }
    }
}

/// Repeats a [outer, 1, inner] view of `x` `axis` times along the middle axis.
func broadcastAxis(_ x: Tensor, outer: Int, axis: Int, inner: Int, resultShape: [Int]) -> Tensor {
    precondition(outer * inner == x.count, "broadcastAxis: \(outer)x\(inner) does not cover \(x.shape)")
    let out = Tensor(uninitialized: resultShape)
    precondition(out.count == outer * axis * inner, "broadcastAxis: result shape \(resultShape)")
    let source = x.pointer, target = out.pointer
    parallelForEach(outer * axis, itemSize: inner) { row in
        (target + row * inner).update(from: source + row / axis * inner, count: inner)
    }
    let inputShape = x.shape
    return makeResult(out, inputs: [x]) { g, _ in
        [sumAxis(g, outer: outer, axis: axis, inner: inner, resultShape: inputShape)]
    }
}

/// Sum of all elements, shape [1].
public func sum(_ x: Tensor) -> Tensor {
    sumAxis(x, outer: 1, axis: x.count, inner: 1, resultShape: [1])
}

/// Mean of all elements, shape [1].
public func mean(_ x: Tensor) -> Tensor {
    scale(sum(x), 1 / Float(x.count))
}

/// Repeats a one-element tensor over `shape`.
public func broadcastScalar(_ x: Tensor, to shape: [Int]) -> Tensor {
    precondition(x.count == 1, "broadcastScalar of shape \(x.shape)")
    return broadcastAxis(x, outer: 1, axis: shape.reduce(1, *), inner: 1, resultShape: shape)
}

/// Per-sample sum over all non-batch dimensions: [N, ...] -> [N].
public func sumPerSample(_ x: Tensor) -> Tensor {
    let n = x.shape[0]
    return sumAxis(x, outer: n, axis: x.count / max(n, 1), inner: 1, resultShape: [n])
}

/// Repeats per-sample values [N] over `shape` = [N, ...].
public func broadcastPerSample(_ x: Tensor, to shape: [Int]) -> Tensor {
    precondition(x.shape == [shape[0]], "broadcastPerSample: \(x.shape) to \(shape)")
    return broadcastAxis(x, outer: shape[0], axis: shape.dropFirst().reduce(1, *), inner: 1, resultShape: shape)
}

/// Sum over channels: [N, C, H, W] -> [N, 1, H, W].
public func sumChannels(_ x: Tensor) -> Tensor {
    let (n, c, h, w) = x.nchw
    return sumAxis(x, outer: n, axis: c, inner: h * w, resultShape: [n, 1, h, w])
}

/// Repeats [N, 1, H, W] over `channels` channels.
public func broadcastChannels(_ x: Tensor, channels: Int) -> Tensor {
    let (n, one, h, w) = x.nchw
    precondition(one == 1, "broadcastChannels needs one channel, got \(x.shape)")
    return broadcastAxis(x, outer: n, axis: channels, inner: h * w, resultShape: [n, channels, h, w])
}

/// Per-channel sum over batch and pixels: [N, C, ...] -> [C] (the gradient of a bias).
public func sumToChannels(_ x: Tensor) -> Tensor {
    let n = x.shape[0], c = x.shape[1], pixels = x.count / max(n * c, 1)
    let overBatch = sumAxis(x, outer: 1, axis: n, inner: c * pixels, resultShape: [c, pixels])
    return sumAxis(overBatch, outer: c, axis: pixels, inner: 1, resultShape: [c])
}

/// Adds a per-channel bias [C] to [N, C, ...].
public func addBias(_ x: Tensor, _ bias: Tensor) -> Tensor {
    let n = x.shape[0], c = x.shape[1], pixels = x.count / max(n * c, 1)
    precondition(bias.shape == [c], "addBias: bias \(bias.shape) for input \(x.shape)")
    let out = Tensor(uninitialized: x.shape)
    let source = x.pointer, target = out.pointer, b = bias.pointer
    parallelForEach(n * c, itemSize: pixels) { plane in
        let base = plane * pixels, value = b[plane % c]
        for i in 0..<pixels { target[base + i] = source[base + i] + value }
    }
    return makeResult(out, inputs: [x, bias]) { g, _ in [g, sumToChannels(g)] }
}

extension Tensor {
    /// The four dimensions of an NCHW tensor.
    public var nchw: (Int, Int, Int, Int) {
        precondition(shape.count == 4, "expected an NCHW tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }
}
