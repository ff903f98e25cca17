// Convolutions for networks that only run forward (the Inception network of FID): any kernel shape, stride
// and padding, a bias and a ReLU fused into the output pass. Square stride-1 convs with equal padding take
// the training convs' path (Winograd or im2col, by the same cost model); the others, strided convs and the
// 1x7 / 7x1 / 1x3 / 3x1 factorized ones, an im2col of their own with one sgemm per band of output rows.

/// Shape of a forward-only convolution of an NCHW batch with an [O, C, kh, kw] filter.
public struct StridedConvGeometry: Equatable {
    public let batch, inChannels, height, width, outChannels: Int
    public let kernelHeight, kernelWidth, stride, padHeight, padWidth: Int

    public init(input: [Int], filter: [Int], stride: Int, padding: (height: Int, width: Int)) {
        precondition(input.count == 4 && filter.count == 4, "conv: input \(input) and filter \(filter) must be 4-D")
        precondition(input[1] == filter[1], "conv: input has \(input[1]) channels, filter expects \(filter[1])")
        precondition(stride >= 1 && padding.height >= 0 && padding.width >= 0, "conv: stride \(stride), \(padding)")
        (batch, inChannels, height, width) = (input[0], input[1], input[2], input[3])
        (outChannels, kernelHeight, kernelWidth) = (filter[0], filter[2], filter[3])
        (self.stride, padHeight, padWidth) = (stride, padding.height, padding.width)
        precondition(
            height + 2 * padHeight >= kernelHeight && width + 2 * padWidth >= kernelWidth,
            "conv: kernel \(filter) larger than padded input \(input)")
    }

    public var outHeight: Int { (height + 2 * padHeight - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padWidth - kernelWidth) / stride + 1 }
    var patch: Int { inChannels * kernelHeight * kernelWidth }

    /// The same conv as the training kernels describe it, when they can compute it.
    var squareUnitStride: ConvGeometry? {
        guard stride == 1, kernelHeight == kernelWidth, padHeight == padWidth else { return nil }
        return ConvGeometry(
            batch: batch, inChannels: inChannels, height: height, width: width, outChannels: outChannels,
            kernel: kernelHeight, padding: padHeight)
    }

    /// Output rows per band: its im2col matrix stays near `ConvGeometry.bandFloats`, as the training convs'.
    var bandRows: Int { max(1, min(outHeight, ConvGeometry.bandFloats / max(patch * outWidth, 1))) }
}

/// y = relu?(conv(x, w) + bias) for any kernel, stride and zero padding: [N, C, H, W] ⊛ [O, C, kh, kw] ->
/// [N, O, (H + 2ph - kh) / s + 1, (W + 2pw - kw) / s + 1]. Not differentiable.
public func conv2dInference(
    _ x: Tensor, _ filter: Tensor, bias: Tensor, stride step: Int = 1, padding: (height: Int, width: Int) = (0, 0),
    relu: Bool
) -> Tensor {
    let g = StridedConvGeometry(input: x.shape, filter: filter.shape, stride: step, padding: padding)
    precondition(bias.shape == [g.outChannels], "conv: bias \(bias.shape) for \(g.outChannels) output channels")
    let out = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth])
    if let square = g.squareUnitStride {
        // A ReLU is a leaky ReLU of slope 0.
        convForwardKernel(
            input: x.pointer, filter: filter.pointer, output: out.pointer, square,
            epilogue: ConvEpilogue(bias: bias.pointer, slope: relu ? 0 : nil))
        return out
    }
    let rows = g.bandRows, outPixels = g.outHeight * g.outWidth
    let columns = Workspace.columns(g.patch * rows * g.outWidth)
    for sample in 0..<g.batch {
        let image = x.pointer + sample * g.inChannels * g.height * g.width
        let target = out.pointer + sample * g.outChannels * outPixels
        for first in stride(from: 0, to: g.outHeight, by: rows) {
            let band = first..<min(first + rows, g.outHeight), width = band.count * g.outWidth
            stridedIm2col(image, g, rows: band, into: columns)
            panelGemm(
                transposeA: false, transposeB: false, m: g.outChannels, n: width, k: g.patch,
                a: filter.pointer, lda: g.patch, b: columns, ldb: width, c: target + first * g.outWidth,
                ldc: outPixels, accumulate: false)
            parallelForEach(g.outChannels, itemSize: width) { o in
                let values = target + o * outPixels + first * g.outWidth, offset = bias.pointer[o]
                for i in 0..<width {
                    let value = values[i] + offset
                    values[i] = relu ? max(value, 0) : value
                }
            }
        }
    }
    return out
}

/// Writes the patches of output rows `rows` of one image as a [patch, rows * outWidth] matrix, one block
/// of kernel rows per input channel.
private func stridedIm2col(
    _ image: UnsafePointer<Float>, _ g: StridedConvGeometry, rows: Range<Int>, into columns: UnsafeMutablePointer<Float>
) {
    let (kh, kw, s, ow) = (g.kernelHeight, g.kernelWidth, g.stride, g.outWidth), leading = rows.count * ow
    parallelForEach(g.inChannels, itemSize: kh * kw * leading) { c in
        let plane = image + c * g.height * g.width
        for ki in 0..<kh {
            for kj in 0..<kw {
                let row = columns + ((c * kh + ki) * kw + kj) * leading
                for (index, y) in rows.enumerated() {
                    let target = row + index * ow, iy = y * s + ki - g.padHeight
                    guard iy >= 0 && iy < g.height else {
                        target.initialize(repeating: 0, count: ow)
                        continue
                    }
                    let source = plane + iy * g.width
                    for ox in 0..<ow {
                        let ix = ox * s + kj - g.padWidth
                        target[ox] = ix >= 0 && ix < g.width ? source[ix] : 0
                    }
                }
            }
        }
    }
}

/// The tensors concatenated along the channel axis: [N, C1, H, W], [N, C2, H, W], ... -> [N, C1 + C2 + ..., H, W].
public func concatenateChannels(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty, "concatenateChannels of nothing")
    let (n, _, h, w) = parts[0].nchw
    precondition(
        parts.allSatisfy { $0.rank == 4 && $0.shape[0] == n && $0.shape[2] == h && $0.shape[3] == w },
        "concatenateChannels: shapes \(parts.map(\.shape)) differ outside the channel axis")
    let channels = parts.map { $0.shape[1] }, total = channels.reduce(0, +), pixels = h * w
    let out = Tensor(uninitialized: [n, total, h, w])
    let offsets = channels.indices.map { channels[..<$0].reduce(0, +) }
    parallelForEach(n * parts.count, itemSize: total / parts.count * pixels) { item in
        let (sample, part) = (item / parts.count, item % parts.count), count = channels[part] * pixels
        (out.pointer + (sample * total + offsets[part]) * pixels)
            .update(from: parts[part].pointer + sample * count, count: count)
    }
    return out
}
