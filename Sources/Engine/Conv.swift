import CBLAS
import Foundation

/// Shape of a stride-1, zero-padded 2-D convolution of an NCHW batch with an [O, C, k, k] filter.
public struct ConvGeometry: Equatable {
    public let batch, inChannels, height, width, outChannels, kernel, padding: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernel: Int, padding: Int) {
        precondition(kernel > 0 && padding >= 0, "conv: kernel \(kernel), padding \(padding)")
        precondition(
            height + 2 * padding >= kernel && width + 2 * padding >= kernel,
            "conv: kernel \(kernel) larger than padded input \(height)x\(width)")
        (self.batch, self.inChannels, self.height, self.width) = (batch, inChannels, height, width)
        (self.outChannels, self.kernel, self.padding) = (outChannels, kernel, padding)
    }

    public var outHeight: Int { height + 2 * padding - kernel + 1 }
    public var outWidth: Int { width + 2 * padding - kernel + 1 }
    var inPixels: Int { height * width }
    var outPixels: Int { outHeight * outWidth }
    /// Rows of the im2col matrix: the GEMM's inner dimension in forward.
    var patch: Int { inChannels * kernel * kernel }
    /// A 1x1 unpadded convolution reads its input directly as the im2col matrix.
    var isPointwise: Bool { kernel == 1 && padding == 0 }

    /// Multiply-adds of the forward pass, times 2: the FLOP count of a direct convolution.
    public var forwardFLOPs: Double { 2 * Double(batch) * Double(outChannels) * Double(patch) * Double(outPixels) }

    /// Large images are processed one sample at a time in bands of output rows, each band's im2col
    /// matrix small enough to stay in cache while the GEMM reads it (a whole 64x64 image's would be
    /// 19 MB at 128 channels). Small images are batched instead, several samples per GEMM, so the GEMM
    /// is wide enough to run near peak, at the price of a staging copy. Either way the workspace stays
    /// under `workspaceFloats` (or one band).
    var slabs: [Slab] {
        if outPixels >= 256 {
            let rows = max(1, min(outHeight, max(256 / outWidth, ConvGeometry.bandFloats / max(patch * outWidth, 1))))
            return (0..<batch).flatMap { sample in
                stride(from: 0, to: outHeight, by: rows).map {
                    Slab(first: sample, count: 1, rows: $0..<min($0 + rows, outHeight))
                }
            }
        }
        let chunk = max(1, min(batch, ConvGeometry.workspaceFloats / max(patch * outPixels, 1)))
        return stride(from: 0, to: batch, by: chunk).map {
            Slab(first: $0, count: min(chunk, batch - $0), rows: 0..<outHeight)
        }
    }

    public static let workspaceFloats = 4 << 20
    static let bandFloats = 1 << 18
}

/// A unit of conv work: output rows `rows` of samples `first ..< first + count` (several samples only
/// with all rows). Its GEMM has `count * rows.count * outWidth` columns.
struct Slab {
    let first: Int
    let count: Int
    let rows: Range<Int>
}

/// Grow-only scratch buffers shared by the conv and normalization kernels, so the hot loop allocates nothing: each
/// grows to the largest layer's need during the first step and is reused from then on.
/// One set per process: ranks are processes, and a kernel's threads share its buffers.
enum Workspace {
    enum Slot: Int, CaseIterable {
        case columns, staging, rotatedFilter, winogradInput, winogradProducts, winogradFilter, pixelNorms,
            pixelNormProjections
    }

    nonisolated(unsafe) private static var buffers = Slot.allCases.map { _ in FloatBuffer(count: 0, pooled: false) }

    static func buffer(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        if buffers[slot.rawValue].count < count {
            buffers[slot.rawValue] = FloatBuffer(count: count, zeroed: false, pooled: false)
        }
        return buffers[slot.rawValue].pointer
    }

    static func columns(_ count: Int) -> UnsafeMutablePointer<Float> { buffer(.columns, count) }
    static func staging(_ count: Int) -> UnsafeMutablePointer<Float> { buffer(.staging, count) }
}

/// What a conv applies to each output value as it writes it: a per-channel bias, then a leaky ReLU.
/// Fused into the kernel, they cost no pass over memory and no tensor of their own.
public struct ConvEpilogue {
    public let bias: UnsafePointer<Float>?
    /// Negative-side slope of the leaky ReLU; nil for no activation.
    public let slope: Float?

    public init(bias: UnsafePointer<Float>?, slope: Float?) {
        self.bias = bias
        self.slope = slope
    }

    public static let identity = ConvEpilogue(bias: nil, slope: nil)
    var isIdentity: Bool { bias == nil && slope == nil }

    @inline(__always)
    func apply(_ value: Float) -> Float {
        guard let slope else { return value }
        return value > 0 ? value : value * slope
    }

    /// `apply` to four values at once (the Winograd output transform's vectors).
    @inline(__always)
    func apply(_ values: SIMD4<Float>) -> SIMD4<Float> {
        guard let slope else { return values }
        return values.replacing(with: values * slope, where: .!(values .> 0))
    }

    /// Applies the epilogue to output rows `rows` of samples `samples` while they are still in cache.
    func apply(to output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, samples: Range<Int>, rows: Range<Int>) {
        guard !isIdentity else { return }
        for s in samples {
            for o in 0..<g.outChannels {
                let values = output + (s * g.outChannels + o) * g.outPixels + rows.lowerBound * g.outWidth
                let offset = bias?[o] ?? 0
                for i in 0..<(rows.count * g.outWidth) { values[i] = apply(values[i] + offset) }
            }
        }
    }
}

/// Runs `body` over slices of 0..<count, one per BLAS thread, so the engine's own loops (Winograd
/// transforms) scale with the thread count the GEMMs use. Each slice writes disjoint memory, so the
/// result does not depend on the thread count. With `gemmsOnCallingThread`, BLAS calls inside `body`
/// run single-threaded on the slice's own thread: for many small independent GEMMs (Winograd's 36 per
/// chunk) sharing out the list beats splitting each GEMM, whose threads would meet after every call.
func forEachSlice(of count: Int, gemmsOnCallingThread: Bool = false, _ body: (Range<Int>) -> Void) {
    let threads = Int(openblas_get_num_threads()), parts = min(threads, count)
    guard parts > 1 else { return body(0..<count) }
    if gemmsOnCallingThread { openblas_set_num_threads(1) }
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        body((count * part / parts)..<(count * (part + 1) / parts))
    }
    if gemmsOnCallingThread { openblas_set_num_threads(Int32(threads)) }
}

// MARK: - Kernels

/// Visits the rows of a [patch, leading] matrix in order, one per input channel `c` and kernel position
/// (`ki`, `kj`), with the row's offset in the matrix and the output columns `lo..<hi` whose input
/// column x + kj - pad falls inside the image.
@inline(__always)
private func forEachPatchRow(
    _ g: ConvGeometry, leading: Int,
    _ body: (_ c: Int, _ ki: Int, _ kj: Int, _ rowStart: Int, _ lo: Int, _ hi: Int) -> Void
) {
    let (k, pad, w, ow) = (g.kernel, g.padding, g.width, g.outWidth)
    for c in 0..<g.inChannels {
        for ki in 0..<k {
            for kj in 0..<k {
                let lo = min(max(0, pad - kj), ow), hi = max(lo, min(ow, w + pad - kj))
                body(c, ki, kj, ((c * k + ki) * k + kj) * leading, lo, hi)
            }
        }
    }
}

/// Writes the patches of output rows `rows` of one sample as columns `columnOffset ...` of a
/// [patch, leading] matrix.
private func im2col(
    _ image: UnsafePointer<Float>, _ g: ConvGeometry, rows: Range<Int>, into columns: UnsafeMutablePointer<Float>,
    leading: Int, columnOffset: Int
) {
    let (pad, h, w, ow) = (g.padding, g.height, g.width, g.outWidth)
    forEachPatchRow(g, leading: leading) { c, ki, kj, rowStart, lo, hi in
        let row = columns + rowStart + columnOffset
        // Output rows whose input row y + ki - pad falls inside the image.
        let top = min(max(rows.lowerBound, pad - ki), rows.upperBound)
        let bottom = max(top, min(rows.upperBound, h + pad - ki))
        row.initialize(repeating: 0, count: (top - rows.lowerBound) * ow)
        (row + (bottom - rows.lowerBound) * ow).initialize(repeating: 0, count: (rows.upperBound - bottom) * ow)
        let source = image + (c * h + top + ki - pad) * w + kj - pad, target = row + (top - rows.lowerBound) * ow
        if ow == w {
            // Rows have the same stride in the image and in the matrix, so the whole band is one
            // copy shifted by kj - pad, clipped to the band; what it carried across row ends
            // falls in the padding columns, zeroed after.
            let count = (bottom - top) * w, start = max(0, pad - kj), end = min(count, count + pad - kj)
            if end > start { (target + start).update(from: source + start, count: end - start) }
        }
        for y in 0..<(bottom - top) {
            let line = target + y * ow
            line.initialize(repeating: 0, count: lo)
            if ow != w { (line + lo).update(from: source + y * w + lo, count: hi - lo) }
            (line + hi).initialize(repeating: 0, count: ow - hi)
        }
    }
}

/// Adds the columns of a [patch, leading] matrix back onto the pixels they were read from (the adjoint
/// of `im2col`).
private func col2imAccumulate(
    _ columns: UnsafePointer<Float>, _ g: ConvGeometry, rows: Range<Int>, leading: Int,
    columnOffset: Int, into image: UnsafeMutablePointer<Float>
) {
    let (pad, h, w, ow) = (g.padding, g.height, g.width, g.outWidth)
    forEachPatchRow(g, leading: leading) { c, ki, kj, rowStart, lo, hi in
        let row = columns + rowStart + columnOffset
        for y in rows {
            let iy = y + ki - pad
            guard iy >= 0 && iy < h else { continue }
            let source = row + (y - rows.lowerBound) * ow, target = image + (c * h + iy) * w + kj - pad
            for x in lo..<hi { target[x] += source[x] }
        }
    }
}

/// Copies per-sample [O, outPixels] planes of `samples` consecutive samples into one [O, samples*outPixels]
/// matrix (`toMatrix`), or back.
private func restage(
    _ nchw: UnsafeMutablePointer<Float>, _ matrix: UnsafeMutablePointer<Float>, channels: Int,
    pixels: Int, samples: Int, toMatrix: Bool
) {
    let leading = samples * pixels
    for s in 0..<samples {
        for c in 0..<channels {
            let plane = nchw + (s * channels + c) * pixels, row = matrix + c * leading + s * pixels
            if toMatrix { row.update(from: plane, count: pixels) } else { plane.update(from: row, count: pixels) }
        }
    }
}

/// A slab's GEMM operand over an NCHW tensor with `channels` channels: for one sample, a strided view
/// of its rows in place; for several, a staged copy (when `staged`) or staging space to fill.
private func slabMatrix(
    _ tensor: UnsafeMutablePointer<Float>, channels: Int, _ g: ConvGeometry, _ slab: Slab, staged: Bool
)
    -> (pointer: UnsafeMutablePointer<Float>, leading: Int)
{
    let planes = tensor + slab.first * channels * g.outPixels
    if slab.count == 1 { return (planes + slab.rows.lowerBound * g.outWidth, g.outPixels) }
    let matrix = Workspace.staging(channels * slab.count * g.outPixels)
    if staged { restage(planes, matrix, channels: channels, pixels: g.outPixels, samples: slab.count, toMatrix: true) }
    return (matrix, slab.count * g.outPixels)
}

/// The im2col matrix of a slab, and its leading dimension. A 1x1 unpadded conv of one sample reads
/// its input in place.
private func patches(
    of input: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ slab: Slab
)
    -> (pointer: UnsafeMutablePointer<Float>, leading: Int)
{
    if g.isPointwise && slab.count == 1 { return slabMatrix(input, channels: g.inChannels, g, slab, staged: false) }
    let leading = slab.count * slab.rows.count * g.outWidth
    let columns = Workspace.columns(g.patch * leading)
    for s in 0..<slab.count {
        im2col(
            input + (slab.first + s) * g.inChannels * g.inPixels, g, rows: slab.rows, into: columns, leading: leading,
            columnOffset: s * g.outPixels)
    }
    return (columns, leading)
}

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

private func im2colForward(
    input: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, epilogue: ConvEpilogue
) {
    for slab in g.slabs {
        let columns = slab.count * slab.rows.count * g.outWidth
        let (patchMatrix, patchLeading) = patches(of: input, g, slab)
        let target = slabMatrix(output, channels: g.outChannels, g, slab, staged: false)
        gemm(
            transposeA: false, transposeB: false, m: g.outChannels, n: columns, k: g.patch,
            a: filter, lda: g.patch, b: patchMatrix, ldb: patchLeading, c: target.pointer, ldc: target.leading,
            accumulate: false)
        if slab.count > 1 {
            restage(
                output + slab.first * g.outChannels * g.outPixels, target.pointer, channels: g.outChannels,
                pixels: g.outPixels, samples: slab.count, toMatrix: false)
        }
        epilogue.apply(to: output, g, samples: slab.first..<(slab.first + slab.count), rows: slab.rows)
    }
}

extension ConvGeometry {
    /// The data gradient of a size-preserving conv is itself a conv of the output gradient, by the
    /// filter rotated 180 degrees with input and output channels swapped, padding k - 1 - p: a GEMM of
    /// the forward pass's efficient shape (inner dimension O·k², written straight into dx) instead of
    /// one with inner dimension O whose k²-times-larger column matrix must be zeroed, filled and folded
    /// back by col2im. Where the conv shrinks the image, that conv would mostly multiply padding.
    var dataGradientAsConv: ConvGeometry? {
        guard kernel > 1 && outHeight == height && outWidth == width else { return nil }
        return ConvGeometry(
            batch: batch, inChannels: outChannels, height: outHeight, width: outWidth,
            outChannels: inChannels, kernel: kernel, padding: kernel - 1 - padding)
    }
}

/// w'[c][o] = w[o][c] rotated by 180 degrees, for an [O, C, k, k] filter.
private func rotatedTransposedFilter(_ filter: UnsafePointer<Float>, _ g: ConvGeometry) -> UnsafeMutablePointer<Float> {
    let taps = g.kernel * g.kernel
    let rotated = Workspace.buffer(.rotatedFilter, g.outChannels * g.patch)
    for o in 0..<g.outChannels {
        for c in 0..<g.inChannels {
            let source = filter + (o * g.inChannels + c) * taps, target = rotated + (c * g.outChannels + o) * taps
            for tap in 0..<taps { target[tap] = source[taps - 1 - tap] }
        }
    }
    return rotated
}

/// dx = convᵀ(dy, w): as a conv of dy (see `dataGradientAsConv`) where the conv keeps the size; otherwise
/// per slab one GEMM [patch, O] · [O, slab columns], then col2im.
public func convBackwardDataKernel(
    outputGradient: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    if g.algorithm == .winograd {
        return winogradBackwardData(outputGradient: outputGradient, filter: filter, inputGradient: inputGradient, g)
    }
    if let transposed = g.dataGradientAsConv {
        return im2colForward(
            input: outputGradient, filter: rotatedTransposedFilter(filter, g), output: inputGradient, transposed,
            epilogue: .identity)
    }
    inputGradient.initialize(repeating: 0, count: g.batch * g.inChannels * g.inPixels)
    for slab in g.slabs {
        let columns = slab.count * slab.rows.count * g.outWidth
        let dy = slabMatrix(outputGradient, channels: g.outChannels, g, slab, staged: true)
        if g.isPointwise && slab.count == 1 {
            // Bands of a 1x1 conv touch disjoint pixels: write the gradient in place.
            let dx = slabMatrix(inputGradient, channels: g.inChannels, g, slab, staged: false)
            gemm(
                transposeA: true, transposeB: false, m: g.patch, n: columns, k: g.outChannels,
                a: filter, lda: g.patch, b: dy.pointer, ldb: dy.leading, c: dx.pointer, ldc: dx.leading,
                accumulate: false)
            continue
        }
        let gradientColumns = Workspace.columns(g.patch * columns)
        gemm(
            transposeA: true, transposeB: false, m: g.patch, n: columns, k: g.outChannels,
            a: filter, lda: g.patch, b: dy.pointer, ldb: dy.leading, c: gradientColumns, ldc: columns, accumulate: false
        )
        for s in 0..<slab.count {
            col2imAccumulate(
                gradientColumns, g, rows: slab.rows, leading: columns, columnOffset: s * g.outPixels,
                into: inputGradient + (slab.first + s) * g.inChannels * g.inPixels)
        }
    }
}

/// dw = Σ dy · im2col(x)ᵀ over the batch, one GEMM [O, slab columns] · [slab columns, patch] per slab.
public func convBackwardFilterKernel(
    input: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
    filterGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    if g.algorithm == .winograd {
        return winogradBackwardFilter(input: input, outputGradient: outputGradient, filterGradient: filterGradient, g)
    }
    filterGradient.initialize(repeating: 0, count: g.outChannels * g.patch)
    for slab in g.slabs {
        let columns = slab.count * slab.rows.count * g.outWidth
        // The patches go to the columns workspace and the gradient to staging: both live at once.
        let (patchMatrix, patchLeading) = patches(of: input, g, slab)
        let dy = slabMatrix(outputGradient, channels: g.outChannels, g, slab, staged: true)
        gemm(
            transposeA: false, transposeB: true, m: g.outChannels, n: g.patch, k: columns,
            a: dy.pointer, lda: dy.leading, b: patchMatrix, ldb: patchLeading, c: filterGradient, ldc: g.patch,
            accumulate: true)
    }
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
