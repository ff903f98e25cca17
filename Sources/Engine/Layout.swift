// Ops that only move data: reshape (a view), concatenation and slicing along channels.

/// The same storage seen with another shape of equal element count.
public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
    precondition(shape.reduce(1, *) == x.count, "reshape: \(x.shape) to \(shape) changes the element count")
    let view = Tensor(shape: shape, buffer: x.buffer, offset: x.offset)
    let inputShape = x.shape
    return makeResult(view, inputs: [x]) { g, _ in [reshape(g, inputShape)] }
}

/// Concatenates [N, Ci, ...] tensors along dimension 1.
public func concatChannels(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "concatChannels of nothing")
    let n = parts[0].shape[0], tail = Array(parts[0].shape.dropFirst(2))
    let pixels = tail.reduce(1, *)
    for part in parts {
        precondition(
            part.shape[0] == n && Array(part.shape.dropFirst(2)) == tail,
            "concatChannels: \(part.shape) does not match \(parts[0].shape)")
    }
    let channels = parts.map { $0.shape[1] }
    let total = channels.reduce(0, +)
    let out = Tensor(uninitialized: [n, total] + tail)
    var start = 0
    for (part, c) in zip(parts, channels) {
        for s in 0..<n {
            (out.pointer + (s * total + start) * pixels).update(from: part.pointer + s * c * pixels, count: c * pixels)
        }
        start += c
    }
    return makeResult(out, inputs: parts) { g, _ in
        var offset = 0
        return channels.map { c in
            defer { offset += c }
            return sliceChannels(g, from: offset, count: c)
        }
    }
}

/// Channels `from ..< from + count` of an [N, C, ...] tensor.
public func sliceChannels(_ x: Tensor, from start: Int, count c: Int) -> Tensor {
    let n = x.shape[0], total = x.shape[1], tail = Array(x.shape.dropFirst(2))
    precondition(start >= 0 && c >= 0 && start + c <= total, "sliceChannels \(start)..<\(start + c) of \(x.shape)")
    let pixels = tail.reduce(1, *)
    let out = Tensor(uninitialized: [n, c] + tail)
    for s in 0..<n {
        (out.pointer + s * c * pixels).update(from: x.pointer + (s * total + start) * pixels, count: c * pixels)
    }
    return makeResult(out, inputs: [x]) { g, _ in
        var pieces: [Tensor] = []
        if start > 0 { pieces.append(Tensor(zeros: [n, start] + tail)) }
        pieces.append(g)
        if start + c < total { pieces.append(Tensor(zeros: [n, total - start - c] + tail)) }
        return [pieces.count == 1 ? g : concatChannels(pieces)]
    }
}
