// Resolution changes between ProGAN blocks. Both ops are linear and each is (a multiple of) the
// other's adjoint: the pullback of a 2x nearest upsample sums 2x2 blocks, that of a 2x2 average pool
// spreads a quarter of the gradient to each pixel.

/// Nearest-neighbour 2x upsampling: [N, C, H, W] -> [N, C, 2H, 2W].
public func upsample2x(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] * 2])
    let (n, c, h, w) = x.nchw
    let ow = 2 * w
    for plane in 0..<(n * c) {
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
    for plane in 0..<(n * c) {
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
