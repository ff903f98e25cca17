import CBLAS

// Winograd's minimal filtering algorithm F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016), with interpolation points 0, ±1, ±2 and ∞. A 4x4 block of outputs of one
// channel pair is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, where d is the 6x6 input window under the block and g the
// 3x3 filter: 36 multiplications instead of 144. Summed over input channels, each of the 36 positions ξ
// of the transformed domain becomes a matrix product U[ξ] (O x C) · V[ξ] (C x tiles), one sgemm each.
//
// The three conv maps all use it: the forward pass as above; the data gradient as the forward pass of
// the flipped, channel-transposed filter (a 3x3 conv with padding 2 - p); the filter gradient as the
// exact adjoint of the forward algorithm, Gᵀ [Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B)] G. Points beyond ±2 lose
// too much float32 accuracy; these keep the error near 1e-5 relative on unit-scale data.

/// How a 3x3 convolution is computed.
public enum ConvAlgorithm: String, CaseIterable, Sendable {
    case im2col
    case winograd

    /// When set, every conv that supports it uses this algorithm instead of the modelled choice: lets
    /// tests drive small layers through the Winograd path and the conv benchmark compare both paths.
    nonisolated(unsafe) static var forced: ConvAlgorithm?

    /// Runs `body` with every eligible conv computed by `algorithm`.
    public static func forcing<T>(_ algorithm: ConvAlgorithm, _ body: () throws -> T) rethrows -> T {
        let previous = forced
        forced = algorithm
        defer { forced = previous }
        return try body()
    }
}

extension ConvGeometry {
    /// F(4x4, 3x3) needs a 3x3 kernel; the data gradient's padding 2 - p must not be negative.
    public var supportsWinograd: Bool { kernel == 3 && padding <= 2 }

    /// The algorithm for all three passes of this layer: the cheaper by a cost model of this machine
    /// kind (a pure function of the shape, never a timing, so that every rank and every resumed run
    /// makes the same choice and deterministic runs stay bit-identical).
    public var algorithm: ConvAlgorithm {
        guard supportsWinograd else { return .im2col }
        if let forced = ConvAlgorithm.forced { return forced }
        return winogradCost < im2colCost ? .winograd : .im2col
    }

    /// Modelled costs in sgemm-FLOP equivalents, fitted to `progan bench conv` on this machine kind:
    /// moving one float through our copy loops costs `floatMoveCost`, transforming one element of a tile
    /// (gathering, two 1-D passes, a strided store) `transformCost`, and a GEMM only `columns` wide
    /// runs at columns / (columns + `narrowColumns`) of its full rate.
    static let floatMoveCost = 12.0, transformCost = 300.0, narrowColumns = 16.0

    static func gemmCost(rows: Double, columns: Double, inner: Double) -> Double {
        2 * rows * columns * inner * (1 + narrowColumns / columns)
    }

    var im2colCost: Double {
        let columns = Double(slabs.map { $0.count * $0.rows.count * outWidth }.max() ?? 1)
        let slabCount = Double(slabs.count), patch = Double(self.patch)
        return slabCount * (ConvGeometry.gemmCost(rows: Double(outChannels), columns: columns, inner: patch)
                            + ConvGeometry.floatMoveCost * patch * columns)
    }

    var winogradCost: Double {
        let plan = WinogradPlan(self)
        let tiles = Double(plan.tiles), (c, o) = (Double(inChannels), Double(outChannels))
        let chunks = Double(plan.chunks.count), width = tiles / chunks
        let products = 36 * chunks * ConvGeometry.gemmCost(rows: o, columns: width, inner: c)
        let transforms = ConvGeometry.transformCost * 36 * (c + o) * tiles
        let filter = ConvGeometry.floatMoveCost * 36 * o * c * (chunks + 1)
        return products + transforms + filter
    }
}

/// How a 3x3 conv's output is cut into 4x4 tiles, and which tiles are transformed and multiplied
/// together: consecutive tile indices over the whole batch (sample-major), in chunks small enough that
/// their transformed inputs and outputs fit the workspace bound, and wide enough for efficient GEMMs.
struct WinogradPlan {
    let geometry: ConvGeometry
    let tilesDown: Int, tilesAcross: Int
    var tilesPerImage: Int { tilesDown * tilesAcross }
    var tiles: Int { geometry.batch * tilesPerImage }
    let chunks: [Range<Int>]

    init(_ g: ConvGeometry) {
        geometry = g
        tilesDown = (g.outHeight + 3) / 4
        tilesAcross = (g.outWidth + 3) / 4
        let total = g.batch * tilesDown * tilesAcross
        let perTile = 36 * (g.inChannels + g.outChannels)
        let widest = max(64, ConvGeometry.workspaceFloats / perTile)
        let count = (total + widest - 1) / widest
        // Equal chunks: a short last one would run a narrow, inefficient GEMM.
        let size = (total + count - 1) / count
        chunks = stride(from: 0, to: total, by: size).map { $0..<min($0 + size, total) }
    }

    /// Sample, top row and left column (in output coordinates) of tile `index`.
    @inline(__always)
    func locate(_ index: Int) -> (sample: Int, top: Int, left: Int) {
        let (sample, within) = index.quotientAndRemainder(dividingBy: tilesPerImage)
        let (row, column) = within.quotientAndRemainder(dividingBy: tilesAcross)
        return (sample, row * 4, column * 4)
    }
}

// MARK: - The three 1-D transforms and their adjoints

/// Bᵀ applied to six values.
@inline(__always)
private func inputTransform(_ d0: Float, _ d1: Float, _ d2: Float, _ d3: Float, _ d4: Float, _ d5: Float)
    -> (Float, Float, Float, Float, Float, Float) {
    let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ applied to six values.
@inline(__always)
private func outputTransform(_ m0: Float, _ m1: Float, _ m2: Float, _ m3: Float, _ m4: Float, _ m5: Float)
    -> (Float, Float, Float, Float) {
    let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
    return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m5)
}

/// A (the adjoint of Aᵀ) applied to four values.
@inline(__always)
private func outputTransformAdjoint(_ y0: Float, _ y1: Float, _ y2: Float, _ y3: Float)
    -> (Float, Float, Float, Float, Float, Float) {
    let even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd8 = 2 * y1 + 8 * y3
    return (y0, even + odd, even - odd, even4 + odd8, even4 - odd8, y3)
}

/// G ⊗ G as a [36, 9] matrix: row ξ = 6a + b, column 3i + j holds G[a][i]·G[b][j], so the transformed
/// filters of all channel pairs are one GEMM with the [O·C, 9] filter tensor.
private let filterTransformMatrix: [Float] = {
    let g: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                         [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
    var matrix: [Float] = []
    for xi in 0..<36 {
        for k in 0..<9 {
            let product: Double = g[xi / 6][k / 3] * g[xi % 6][k % 3]
            matrix.append(Float(product))
        }
    }
    return matrix
}()

/// The same for the filter rotated by 180 degrees (column 3i + j reads g[2 - i][2 - j]).
private let flippedFilterTransformMatrix: [Float] = (0..<36).flatMap { xi in (0..<9).map { filterTransformMatrix[xi * 9 + 8 - $0] } }

// MARK: - Tile transforms

/// Points `window` at the size x size block whose top-left pixel is (top, left) of an height x width plane,
/// directly when it lies inside, otherwise as a zero-padded copy in `scratch`. Returns the row stride.
@inline(__always)
private func block(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, size: Int,
                   scratch: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int) {
    if top >= 0 && left >= 0 && top + size <= height && left + size <= width { return (plane + top * width + left, width) }
    let lo = max(0, -left), hi = max(lo, min(size, width - left))
    for i in 0..<size {
        let row = scratch + i * size, y = top + i
        row.initialize(repeating: 0, count: size)
        if y >= 0 && y < height && hi > lo { (row + lo).update(from: plane + y * width + left + lo, count: hi - lo) }
    }
    return (UnsafePointer(scratch), size)
}

/// Writes Bᵀ d B of the 6x6 window d at `window` to `target[ξ · step]`.
@inline(__always)
private func transformInputWindow(_ window: UnsafePointer<Float>, stride: Int, into target: UnsafeMutablePointer<Float>, step: Int,
                                  scratch: UnsafeMutablePointer<Float>) {
    for j in 0..<6 {
        let column = window + j
        let t = inputTransform(column[0], column[stride], column[2 * stride], column[3 * stride], column[4 * stride], column[5 * stride])
        (scratch[j], scratch[6 + j], scratch[12 + j], scratch[18 + j], scratch[24 + j], scratch[30 + j]) = t
    }
    for i in 0..<6 {
        let row = scratch + 6 * i, out = target + 6 * i * step
        let t = inputTransform(row[0], row[1], row[2], row[3], row[4], row[5])
        (out[0], out[step], out[2 * step], out[3 * step], out[4 * step], out[5 * step]) = t
    }
}

/// Writes A y Aᵀ of the 4x4 block y at `block` to `target[ξ · step]`.
@inline(__always)
private func transformOutputGradientBlock(_ block: UnsafePointer<Float>, stride: Int, into target: UnsafeMutablePointer<Float>, step: Int,
                                          scratch: UnsafeMutablePointer<Float>) {
    for j in 0..<4 {
        let column = block + j
        let t = outputTransformAdjoint(column[0], column[stride], column[2 * stride], column[3 * stride])
        (scratch[j], scratch[4 + j], scratch[8 + j], scratch[12 + j], scratch[16 + j], scratch[20 + j]) = t
    }
    for a in 0..<6 {
        let row = scratch + 4 * a, out = target + 6 * a * step
        let t = outputTransformAdjoint(row[0], row[1], row[2], row[3])
        (out[0], out[step], out[2 * step], out[3 * step], out[4 * step], out[5 * step]) = t
    }
}

/// V[ξ][c][t]: the transformed input windows of the chunk's tiles, for every channel.
private func transformInputs(_ input: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into v: UnsafeMutablePointer<Float>) {
    let g = plan.geometry, step = g.inChannels * chunk.count
    forEachSlice(of: g.inChannels) { channels in
        withScratch { window, transform in
            for c in channels {
                for t in chunk {
                    let (sample, top, left) = plan.locate(t)
                    let plane = input + (sample * g.inChannels + c) * g.inPixels
                    let (d, stride) = block(plane, height: g.height, width: g.width, top: top - g.padding, left: left - g.padding,
                                            size: 6, scratch: window)
                    transformInputWindow(d, stride: stride, into: v + c * chunk.count + (t - chunk.lowerBound), step: step, scratch: transform)
                }
            }
        }
    }
}

/// Z[ξ][o][t]: the transformed output-gradient blocks of the chunk's tiles (zero beyond the output's edge).
private func transformOutputGradients(_ gradient: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>,
                                      into z: UnsafeMutablePointer<Float>) {
    let g = plan.geometry, step = g.outChannels * chunk.count
    forEachSlice(of: g.outChannels) { channels in
        withScratch { window, transform in
            for o in channels {
                for t in chunk {
                    let (sample, top, left) = plan.locate(t)
                    let plane = gradient + (sample * g.outChannels + o) * g.outPixels
                    let (y, stride) = block(plane, height: g.outHeight, width: g.outWidth, top: top, left: left, size: 4, scratch: window)
                    transformOutputGradientBlock(y, stride: stride, into: z + o * chunk.count + (t - chunk.lowerBound), step: step,
                                                 scratch: transform)
                }
            }
        }
    }
}

/// Output blocks Aᵀ M A of the chunk's tiles from M[ξ][o][t], cropped at the output's edge, with the
/// epilogue applied as they are written.
private func transformOutputs(_ m: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into output: UnsafeMutablePointer<Float>,
                              epilogue: ConvEpilogue) {
    let g = plan.geometry, step = g.outChannels * chunk.count
    forEachSlice(of: g.outChannels) { channels in
        withScratch { block, columns in
            for o in channels {
                let bias = epilogue.bias?[o] ?? 0
                for t in chunk {
                    let source = m + o * chunk.count + (t - chunk.lowerBound)
                    for b in 0..<6 {
                        let column = source + b * step
                        let s = outputTransform(column[0], column[6 * step], column[12 * step], column[18 * step], column[24 * step],
                                                column[30 * step])
                        (columns[b], columns[6 + b], columns[12 + b], columns[18 + b]) = s
                    }
                    for i in 0..<4 {
                        let row = columns + 6 * i
                        (block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]) =
                            outputTransform(row[0], row[1], row[2], row[3], row[4], row[5])
                    }
                    let (sample, top, left) = plan.locate(t)
                    let plane = output + (sample * g.outChannels + o) * g.outPixels
                    for i in 0..<min(4, g.outHeight - top) {
                        let target = plane + (top + i) * g.outWidth + left
                        for j in 0..<min(4, g.outWidth - left) { target[j] = epilogue.apply(block[4 * i + j] + bias) }
                    }
                }
            }
        }
    }
}

/// Two small per-thread scratch areas for gathering and transforming one tile.
@inline(__always)
private func withScratch(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 72) { buffer in
        body(buffer.baseAddress!, buffer.baseAddress! + 36)
    }
}

// MARK: - Kernels

/// Transformed filters U[ξ] = G g Gᵀ of an [O, C, 3, 3] filter as [36][O][C], or of the filter rotated
/// by 180 degrees when `flipped` (still indexed [ξ][o][c]).
private func transformFilters(_ filter: UnsafePointer<Float>, outChannels: Int, inChannels: Int, flipped: Bool,
                              into u: UnsafeMutablePointer<Float>) {
    let pairs = outChannels * inChannels
    (flipped ? flippedFilterTransformMatrix : filterTransformMatrix).withUnsafeBufferPointer { matrix in
        gemm(transposeA: false, transposeB: true, m: 36, n: pairs, k: 9, a: matrix.baseAddress!, lda: 9, b: filter, ldb: 9,
             c: u, ldc: pairs, accumulate: false)
    }
}

/// A 3x3 conv of `input` by the transformed filter `u` ([36][O][C], or [36][C][O] read transposed when
/// `transposedFilter`), written to `output` through `epilogue`.
private func winogradConvolve(input: UnsafePointer<Float>, transformedFilter u: UnsafePointer<Float>, transposedFilter: Bool,
                              output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, epilogue: ConvEpilogue) {
    let plan = WinogradPlan(g)
    let (c, o) = (g.inChannels, g.outChannels)
    for chunk in plan.chunks {
        let n = chunk.count
        let v = Workspace.buffer(.winogradInput, 36 * c * n), m = Workspace.buffer(.winogradProducts, 36 * o * n)
        transformInputs(input, plan, chunk: chunk, into: v)
        for xi in 0..<36 {
            gemm(transposeA: transposedFilter, transposeB: false, m: o, n: n, k: c, a: u + xi * o * c, lda: transposedFilter ? o : c,
                 b: v + xi * c * n, ldb: n, c: m + xi * o * n, ldc: n, accumulate: false)
        }
        transformOutputs(m, plan, chunk: chunk, into: output, epilogue: epilogue)
    }
}

/// y = conv(x, w), through F(4x4, 3x3).
func winogradForward(input: UnsafePointer<Float>, filter: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                     epilogue: ConvEpilogue) {
    let u = Workspace.buffer(.winogradFilter, 36 * g.outChannels * g.inChannels)
    transformFilters(filter, outChannels: g.outChannels, inChannels: g.inChannels, flipped: false, into: u)
    winogradConvolve(input: input, transformedFilter: u, transposedFilter: false, output: output, g, epilogue: epilogue)
}

/// dx = convᵀ(dy, w): the conv of dy by the rotated filter with input and output channels swapped,
/// padding 2 - p, which maps the output's size back to the input's.
func winogradBackwardData(outputGradient: UnsafePointer<Float>, filter: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                          _ g: ConvGeometry) {
    let transposed = ConvGeometry(batch: g.batch, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
                                  outChannels: g.inChannels, kernel: 3, padding: 2 - g.padding)
    let u = Workspace.buffer(.winogradFilter, 36 * g.outChannels * g.inChannels)
    transformFilters(filter, outChannels: g.outChannels, inChannels: g.inChannels, flipped: true, into: u)
    winogradConvolve(input: outputGradient, transformedFilter: u, transposedFilter: true, output: inputGradient, transposed,
                     epilogue: .identity)
}

/// dw = Gᵀ [Σ over tiles of (A dY Aᵀ) ⊙ (Bᵀ d B)] G: per ξ one GEMM Z[ξ] (O x tiles) · V[ξ]ᵀ, summed
/// over chunks, then one GEMM back to 3x3.
func winogradBackwardFilter(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                            filterGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    let plan = WinogradPlan(g)
    let (c, o) = (g.inChannels, g.outChannels)
    let du = Workspace.buffer(.winogradFilter, 36 * o * c)
    for (index, chunk) in plan.chunks.enumerated() {
        let n = chunk.count
        let v = Workspace.buffer(.winogradInput, 36 * c * n), z = Workspace.buffer(.winogradProducts, 36 * o * n)
        transformInputs(input, plan, chunk: chunk, into: v)
        transformOutputGradients(outputGradient, plan, chunk: chunk, into: z)
        for xi in 0..<36 {
            gemm(transposeA: false, transposeB: true, m: o, n: c, k: n, a: z + xi * o * n, lda: n, b: v + xi * c * n, ldb: n,
                 c: du + xi * o * c, ldc: c, accumulate: index > 0)
        }
    }
    filterTransformMatrix.withUnsafeBufferPointer { matrix in
        gemm(transposeA: true, transposeB: false, m: o * c, n: 9, k: 36, a: du, lda: o * c, b: matrix.baseAddress!, ldb: 9,
             c: filterGradient, ldc: 9, accumulate: false)
    }
}
