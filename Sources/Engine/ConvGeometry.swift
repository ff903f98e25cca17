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
/// One set per calling thread (`ThreadState`): a kernel's blocks share their caller's buffers.
enum Workspace {
    enum Slot: Int, CaseIterable {
        case columns, staging, rotatedFilter, winogradInput, winogradProducts, winogradFilter, pixelNorms,
            pixelNormProjections
    }

    static func buffer(_ slot: Slot, _ count: Int) -> UnsafeMutablePointer<Float> {
        let state = ThreadState.current
        if state.workspaces[slot.rawValue].count < count {
            state.workspaces[slot.rawValue] = FloatBuffer(count: count, zeroed: false, pooled: false)
        }
        return state.workspaces[slot.rawValue].pointer
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
        parallelForEach(samples.count * g.outChannels, itemSize: rows.count * g.outWidth) { plane in
            let o = plane % g.outChannels, s = samples.lowerBound + plane / g.outChannels
            let values = output + (s * g.outChannels + o) * g.outPixels + rows.lowerBound * g.outWidth
            let offset = bias?[o] ?? 0
            for i in 0..<(rows.count * g.outWidth) { values[i] = apply(values[i] + offset) }
        }
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
