// Resolution changes between ProGAN blocks, shared out over the engine's threads by image plane. Both
// ops are linear and each is (a multiple of) the other's adjoint: the pullback of a 2x nearest upsample
// sums 2x2 blocks, that of a 2x2 average pool spreads a quarter of the gradient to each pixel.

/// Nearest-neighbour 2x upsampling: [N, C, H, W] -> [N, C, 2H, 2W].
public func upsample2x(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] * 2])
    let (n, c, h, w) = x.nchw
    let ow = 2 * w
    parallelForEach(n * c, itemSize: 4 * h * w) { plane in
        let input = x.pointer + plane * h * w, output = out.pointer + plane * 4 * h * w
        for i in 0..<h {
            let row = input + i * w, top = output + 2 * i * ow
            for j in 0..<w {
                top[2 * j] = row[j]
                top[2 * j + 1] = row[j]
            }
            (top + ow).update(from: top, count: ow)
        }
    }
    return makeResult(out, inputs: [x]) { g, _ in [scale(avgPool2x2(g), 4)] }
}

/// 2x2 average pooling: [N, C, H, W] -> [N, C, H/2, W/2]; H and W must be even.
public func avgPool2x2(_ x: Tensor) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(h % 2 == 0 && w % 2 == 0, "avgPool2x2 needs even sizes, got \(x.shape)")
    let out = Tensor(uninitialized: [n, c, h / 2, w / 2])
    let source = x.pointer, target = out.pointer
    let oh = h / 2, ow = w / 2
    parallelForEach(n * c, itemSize: h * w) { plane in
        let input = source + plane * h * w, output = target + plane * oh * ow
        for i in 0..<oh {
            let top = input + 2 * i * w, bottom = top + w, row = output + i * ow
            for j in 0..<ow {
                row[j] = 0.25 * (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1])
            }
        }
    }
    return makeResult(out, inputs: [x]) { g, _ in [scale(upsample2x(g), 0.25)] }
}

/// G's output during a fade-in, `(1 − α)·upsample2x(coarse) + α·fine`, in one pass over `fine`, with
/// no upsampled image of its own.
public func fadeIn(upsampling coarse: Tensor, into fine: Tensor, alpha: Float) -> Tensor {
    let (n, c, h, w) = coarse.nchw
    precondition(fine.shape == [n, c, 2 * h, 2 * w], "fadeIn: \(fine.shape) is not twice \(coarse.shape)")
    let out = Tensor(uninitialized: fine.shape)
    let ow = 2 * w
    parallelForEach(n * c, itemSize: 4 * h * w) { plane in
        let low = coarse.pointer + plane * h * w, high = fine.pointer + plane * 4 * h * w,
            target = out.pointer + plane * 4 * h * w
        for i in 0..<(2 * h) {
            let source = low + (i / 2) * w, row = high + i * ow, blended = target + i * ow
            for j in 0..<ow { blended[j] = source[j / 2] + alpha * (row[j] - source[j / 2]) }
        }
    }
    return makeResult(out, inputs: [coarse, fine]) { g, _ in [scale(avgPool2x2(g), 4 * (1 - alpha)), scale(g, alpha)] }
}

/// `α·x + (1 − α)·upsample2x(avgPool2x2(x))` in one pass: real images cross-faded during a fade-in the
/// way G's output is. Averaging 2x2 blocks and spreading the mean back is a symmetric projection, so
/// the map is its own adjoint and its pullback is itself.
public func fadeTowardCoarse(_ x: Tensor, alpha: Float) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(h % 2 == 0 && w % 2 == 0, "fadeTowardCoarse needs even sizes, got \(x.shape)")
    let out = Tensor(uninitialized: x.shape)
    parallelForEach(n * c, itemSize: h * w) { plane in
        let input = x.pointer + plane * h * w, output = out.pointer + plane * h * w
        for i in stride(from: 0, to: h, by: 2) {
            let top = input + i * w, bottom = top + w, outTop = output + i * w, outBottom = outTop + w
            for j in stride(from: 0, to: w, by: 2) {
                let mean = 0.25 * (top[j] + top[j + 1] + bottom[j] + bottom[j + 1])
                outTop[j] = mean + alpha * (top[j] - mean)
                outTop[j + 1] = mean + alpha * (top[j + 1] - mean)
                outBottom[j] = mean + alpha * (bottom[j] - mean)
                outBottom[j + 1] = mean + alpha * (bottom[j + 1] - mean)
            }
        }
    }
    return makeResult(out, inputs: [x]) { g, _ in [fadeTowardCoarse(g, alpha: alpha)] }
}
