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
    static let floatMoveCost = 12.0, transformCost = 400.0, narrowColumns = 48.0

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
public struct WinogradPlan {
    /// Bound on the transformed inputs and outputs of one chunk (64 MiB). Generous, because every chunk
    /// reads the whole transformed filter (36·O·C values) and, in the filter gradient, adds to it: with
    /// 512 channels those are 38 MB, and fewer chunks mean fewer passes over them.
    public static let workspaceFloats = 16 << 20

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
        let widest = max(64, WinogradPlan.workspaceFloats / perTile)
        let count = (total + widest - 1) / widest
        // Equal chunks: a short last one would run a narrow, inefficient GEMM.
        let size = (total + count - 1) / count
        chunks = stride(from: 0, to: total, by: size).map { $0..<min($0 + size, total) }
    }

    /// The chunk's tiles as runs along tile rows: each run is `count` consecutive tiles of one row of one
    /// sample, starting at output pixel (top, left), whose transformed values go to columns
    /// `column ..< column + count` of the chunk's matrices.
    func runs(_ chunk: Range<Int>) -> [TileRun] {
        var runs: [TileRun] = []
        var index = chunk.lowerBound
        while index < chunk.upperBound {
            let (sample, within) = index.quotientAndRemainder(dividingBy: tilesPerImage)
            let (row, column) = within.quotientAndRemainder(dividingBy: tilesAcross)
            let count = min(chunk.upperBound - index, tilesAcross - column)
            runs.append(TileRun(sample: sample, top: row * 4, left: column * 4, count: count, column: index - chunk.lowerBound))
            index += count
        }
        return runs
    }
}

struct TileRun {
    let sample: Int, top: Int, left: Int, count: Int, column: Int
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

/// Distance between the 36 [rows, tiles] matrices of a transformed chunk. Each tile's 36 values are
/// written (or read) across all of them at once; at a distance that is a multiple of 4 KiB those 36
/// streams would share cache sets and evict each other, so each matrix starts one cache line further.
@inline(__always)
func transformedPlaneStride(rows: Int, tiles: Int) -> Int { (rows * tiles + 1023) / 1024 * 1024 + 16 }

// MARK: - Tile transforms
//
// Each works on a run of tiles along one tile row, one channel at a time. Image rows are copied into a
// band split by column modulo 4 ("phases": column 4k + r goes to phase r at position k), so that tile k
// reads positions k of every phase and k + 1 of phases 0 and 1: every loop then walks contiguous
// memory and is vectorized by the compiler, the pass across rows as well as the pass along them, which
// writes each transformed position ξ as a contiguous stream over the run's tiles.

/// Copies rows `top ..< top + rows`, columns `left ..< left + columns` of a height x width plane into a
/// band of `rows` rows of 4 phases of `phaseLength` values each, zero outside the plane.
@inline(__always)
private func copyBandByPhase(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int, columns: Int,
                             phaseLength: Int, into band: UnsafeMutablePointer<Float>) {
    band.initialize(repeating: 0, count: rows * 4 * phaseLength)
    let lo = min(max(0, -left), columns), hi = max(lo, min(columns, width - left))
    for i in 0..<rows where top + i >= 0 && top + i < height {
        let source = plane + (top + i) * width + left, row = band + i * 4 * phaseLength
        for x in lo..<hi { row[(x & 3) * phaseLength + (x >> 2)] = source[x] }
    }
}

/// V[ξ][c][t]: Bᵀ d B of the 6x6 input window of every tile of the chunk, for every channel.
private func transformInputs(_ input: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into v: UnsafeMutablePointer<Float>) {
    let g = plan.geometry, n = chunk.count, step = transformedPlaneStride(rows: g.inChannels, tiles: n)
    let runs = plan.runs(chunk), longest = plan.tilesAcross + 1
    forEachSlice(of: g.inChannels) { channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 48 * longest) { scratch in
            for c in channels {
                for run in runs {
                    let phase = run.count + 1, rowLength = 4 * phase
                    let band = scratch.baseAddress!, columns = band + 6 * rowLength
                    copyBandByPhase(input + (run.sample * g.inChannels + c) * g.inPixels, height: g.height, width: g.width,
                                    top: run.top - g.padding, left: run.left - g.padding, rows: 6, columns: 4 * run.count + 2,
                                    phaseLength: phase, into: band)
                    let (b0, b1, b2, b3, b4, b5) = (band, band + rowLength, band + 2 * rowLength, band + 3 * rowLength,
                                                    band + 4 * rowLength, band + 5 * rowLength)
                    let (c0, c1, c2, c3, c4, c5) = (columns, columns + rowLength, columns + 2 * rowLength, columns + 3 * rowLength,
                                                    columns + 4 * rowLength, columns + 5 * rowLength)
                    for x in 0..<rowLength {
                        (c0[x], c1[x], c2[x], c3[x], c4[x], c5[x]) = inputTransform(b0[x], b1[x], b2[x], b3[x], b4[x], b5[x])
                    }
                    for i in 0..<6 {
                        let p0 = columns + i * rowLength, p1 = p0 + phase, p2 = p1 + phase, p3 = p2 + phase
                        let next0 = p0 + 1, next1 = p1 + 1
                        let out = v + 6 * i * step + c * n + run.column
                        let (o0, o1, o2, o3, o4, o5) = (out, out + step, out + 2 * step, out + 3 * step, out + 4 * step, out + 5 * step)
                        for k in 0..<run.count {
                            (o0[k], o1[k], o2[k], o3[k], o4[k], o5[k]) = inputTransform(p0[k], p1[k], p2[k], p3[k], next0[k], next1[k])
                        }
                    }
                }
            }
        }
    }
}

/// Z[ξ][o][t]: A y Aᵀ of the 4x4 output-gradient block y of every tile of the chunk (zero beyond the
/// output's edge), for every output channel.
private func transformOutputGradients(_ gradient: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>,
                                      into z: UnsafeMutablePointer<Float>) {
    let g = plan.geometry, n = chunk.count, step = transformedPlaneStride(rows: g.outChannels, tiles: n)
    let runs = plan.runs(chunk), longest = plan.tilesAcross
    forEachSlice(of: g.outChannels) { channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 40 * longest) { scratch in
            for o in channels {
                for run in runs {
                    let phase = run.count, rowLength = 4 * phase
                    let band = scratch.baseAddress!, columns = band + 4 * rowLength
                    copyBandByPhase(gradient + (run.sample * g.outChannels + o) * g.outPixels, height: g.outHeight, width: g.outWidth,
                                    top: run.top, left: run.left, rows: 4, columns: 4 * run.count, phaseLength: phase, into: band)
                    let (b0, b1, b2, b3) = (band, band + rowLength, band + 2 * rowLength, band + 3 * rowLength)
                    let (c0, c1, c2, c3, c4, c5) = (columns, columns + rowLength, columns + 2 * rowLength, columns + 3 * rowLength,
                                                    columns + 4 * rowLength, columns + 5 * rowLength)
                    for x in 0..<rowLength {
                        (c0[x], c1[x], c2[x], c3[x], c4[x], c5[x]) = outputTransformAdjoint(b0[x], b1[x], b2[x], b3[x])
                    }
                    for a in 0..<6 {
                        let p0 = columns + a * rowLength, p1 = p0 + phase, p2 = p1 + phase, p3 = p2 + phase
                        let out = z + 6 * a * step + o * n + run.column
                        let (o0, o1, o2, o3, o4, o5) = (out, out + step, out + 2 * step, out + 3 * step, out + 4 * step, out + 5 * step)
                        for k in 0..<run.count {
                            (o0[k], o1[k], o2[k], o3[k], o4[k], o5[k]) = outputTransformAdjoint(p0[k], p1[k], p2[k], p3[k])
                        }
                    }
                }
            }
        }
    }
}

/// Output blocks Aᵀ M A of the chunk's tiles from M[ξ][o][t], cropped at the output's edge, with the
/// epilogue applied as they are written.
private func transformOutputs(_ m: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into output: UnsafeMutablePointer<Float>,
                              epilogue: ConvEpilogue) {
    let g = plan.geometry, n = chunk.count, step = transformedPlaneStride(rows: g.outChannels, tiles: n)
    let runs = plan.runs(chunk), longest = plan.tilesAcross
    forEachSlice(of: g.outChannels) { channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 40 * longest) { scratch in
            for o in channels {
                let bias = epilogue.bias?[o] ?? 0
                for run in runs {
                    let phase = run.count, rowLength = 4 * phase
                    let rows = scratch.baseAddress!, block = rows + 6 * rowLength
                    for a in 0..<6 {
                        let products = m + 6 * a * step + o * n + run.column
                        let (m0, m1, m2, m3, m4, m5) = (products, products + step, products + 2 * step, products + 3 * step,
                                                        products + 4 * step, products + 5 * step)
                        let q0 = rows + a * rowLength, q1 = q0 + phase, q2 = q1 + phase, q3 = q2 + phase
                        for k in 0..<run.count {
                            (q0[k], q1[k], q2[k], q3[k]) = outputTransform(m0[k], m1[k], m2[k], m3[k], m4[k], m5[k])
                        }
                    }
                    let (r0, r1, r2, r3, r4, r5) = (rows, rows + rowLength, rows + 2 * rowLength, rows + 3 * rowLength,
                                                    rows + 4 * rowLength, rows + 5 * rowLength)
                    let (y0, y1, y2, y3) = (block, block + rowLength, block + 2 * rowLength, block + 3 * rowLength)
                    for x in 0..<rowLength {
                        (y0[x], y1[x], y2[x], y3[x]) = outputTransform(r0[x], r1[x], r2[x], r3[x], r4[x], r5[x])
                    }
                    let plane = output + (run.sample * g.outChannels + o) * g.outPixels
                    let visible = min(rowLength, g.outWidth - run.left)
                    for i in 0..<min(4, g.outHeight - run.top) {
                        let target = plane + (run.top + i) * g.outWidth + run.left, values = block + i * rowLength
                        for x in 0..<visible { target[x] = epilogue.apply(values[(x & 3) * phase + (x >> 2)] + bias) }
                    }
                }
            }
        }
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
        let (inputStride, outputStride) = (transformedPlaneStride(rows: c, tiles: n), transformedPlaneStride(rows: o, tiles: n))
        let v = Workspace.buffer(.winogradInput, 36 * inputStride), m = Workspace.buffer(.winogradProducts, 36 * outputStride)
        transformInputs(input, plan, chunk: chunk, into: v)
        for xi in 0..<36 {
            gemm(transposeA: transposedFilter, transposeB: false, m: o, n: n, k: c, a: u + xi * o * c, lda: transposedFilter ? o : c,
                 b: v + xi * inputStride, ldb: n, c: m + xi * outputStride, ldc: n, accumulate: false)
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
        let (inputStride, outputStride) = (transformedPlaneStride(rows: c, tiles: n), transformedPlaneStride(rows: o, tiles: n))
        let v = Workspace.buffer(.winogradInput, 36 * inputStride), z = Workspace.buffer(.winogradProducts, 36 * outputStride)
        transformInputs(input, plan, chunk: chunk, into: v)
        transformOutputGradients(outputGradient, plan, chunk: chunk, into: z)
        for xi in 0..<36 {
            gemm(transposeA: false, transposeB: true, m: o, n: c, k: n, a: z + xi * outputStride, lda: n, b: v + xi * inputStride, ldb: n,
                 c: du + xi * o * c, ldc: c, accumulate: index > 0)
        }
    }
    filterTransformMatrix.withUnsafeBufferPointer { matrix in
        gemm(transposeA: true, transposeB: false, m: o * c, n: 9, k: 36, a: du, lda: o * c, b: matrix.baseAddress!, ldb: 9,
             c: filterGradient, ldc: 9, accumulate: false)
    }
}
