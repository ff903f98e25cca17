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
    /// runs at columns / (columns + `narrowColumns`) of its full rate. Fitted on 52 layers (16-512
    /// channels, 4-64 pixels, batch 8 and 16, one thread) after chunks were sized to keep the transforms
    /// in cache: Winograd then wins everywhere but at 4x4 with 128 channels or more (0.57-0.99x), which
    /// these constants pick as im2col; they also pick im2col for 32 and 64 channels at 4x4 and batch 8,
    /// where Winograd measured 1.08-1.17x, the model's only misses.
    static let floatMoveCost = 32.0, transformCost = 50.0, narrowColumns = 24.0

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
    /// Bound on the transformed inputs and outputs of one chunk (64 MiB).
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
        // Every chunk's GEMMs read the whole transformed filter (36·O·C values) and, in the filter
        // gradient, add to it, so wide chunks amortize that pass. But a chunk's transformed inputs and
        // products (36·(C + O) values per tile) are written and read back by passes with 36 streams,
        // which are fast only while they stay in cache. Chunks with four times the filter's values
        // balance the two: 128 tiles at 64 channels (2.4 MB; 64ch 32x32 at batch 16 ran 1.5x faster
        // than as one 9 MB chunk), 455 (the workspace bound) at 512, where the GEMMs dominate.
        let (c, o) = (g.inChannels, g.outChannels), perTile = 36 * (c + o)
        let widest = max(64, min(4 * o * c / (c + o), WinogradPlan.workspaceFloats / perTile))
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
//
// Applied to four tiles at once: lane t of every argument belongs to tile k + t of a run.

/// Four consecutive tiles of a run, one per lane.
private typealias Lanes = SIMD4<Float>

/// Bᵀ applied to six values.
@inline(__always)
private func inputTransform(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes)
    -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
    let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ applied to six values.
@inline(__always)
private func outputTransform(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
    -> (Lanes, Lanes, Lanes, Lanes) {
    let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
    return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m5)
}

/// A (the adjoint of Aᵀ) applied to four values.
@inline(__always)
private func outputTransformAdjoint(_ y0: Lanes, _ y1: Lanes, _ y2: Lanes, _ y3: Lanes)
    -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
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

/// Columns of a chunk's [rows, columns] transformed matrices for `tiles` tiles: three beyond the last
/// tile, because the transforms read and write whole groups of four tiles and a run's last group may
/// reach up to three tiles past its end (into the next run's columns, which that run then overwrites,
/// or into these spare ones, which no GEMM reads).
@inline(__always)
func transformedColumns(tiles: Int) -> Int { tiles + 3 }

/// Distance between the 36 [rows, columns] matrices of a transformed chunk. Each tile's 36 values are
/// written (or read) across all of them at once; at a distance that is a multiple of 4 KiB those 36
/// streams would share cache sets and evict each other, so each matrix starts one cache line further.
@inline(__always)
func transformedPlaneStride(rows: Int, columns: Int) -> Int { (rows * columns + 1023) / 1024 * 1024 + 16 }

// MARK: - Tile transforms
//
// Each works on a run of tiles along one tile row, one channel at a time, four tiles at a time. The
// image rows under the run are copied to contiguous, zero-padded lines; the pass across rows then
// works on whole lines, and the pass along them splits 16 consecutive values (four tiles' four
// columns) into four vectors, one per column of the tiles ("phases"), in registers, and writes each
// transformed position ξ of the four tiles as one vector store.

@inline(__always)
private func roundedToLanes(_ tiles: Int) -> Int { (tiles + 3) & ~3 }

@inline(__always)
private func load<Vector: SIMD>(_ pointer: UnsafePointer<Float>) -> Vector where Vector.Scalar == Float {
    UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
}

@inline(__always)
private func store<Vector: SIMD>(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) where Vector.Scalar == Float {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
}

/// The four columns of four consecutive tiles, from their 16 values in image order.
@inline(__always)
private func phases(_ line: UnsafePointer<Float>) -> (Lanes, Lanes, Lanes, Lanes) {
    let values: SIMD16<Float> = load(line)
    let even = values.evenHalf, odd = values.oddHalf
    return (even.evenHalf, odd.evenHalf, even.oddHalf, odd.oddHalf)
}

/// The inverse of `phases`: stores four tiles' columns as 16 values in image order.
@inline(__always)
private func storeInImageOrder(_ q0: Lanes, _ q1: Lanes, _ q2: Lanes, _ q3: Lanes, _ line: UnsafeMutablePointer<Float>) {
    store(SIMD16(q0[0], q1[0], q2[0], q3[0], q0[1], q1[1], q2[1], q3[1], q0[2], q1[2], q2[2], q3[2], q0[3], q1[3], q2[3], q3[3]), line)
}

/// Stores six vectors `step` apart: six rows of lines, or six consecutive transformed planes.
@inline(__always)
private func storeSix(_ values: (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes), _ target: UnsafeMutablePointer<Float>, step: Int) {
    store(values.0, target)
    store(values.1, target + step)
    store(values.2, target + 2 * step)
    store(values.3, target + 3 * step)
    store(values.4, target + 4 * step)
    store(values.5, target + 5 * step)
}

/// Copies rows `top ..< top + rows`, columns `left ..< left + length` of a height x width plane into
/// `rows` lines of `length` values, zero outside the plane.
@inline(__always)
private func copyLines(_ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int, length: Int,
                       into lines: UnsafeMutablePointer<Float>) {
    let lo = min(max(0, -left), length), hi = max(lo, min(length, width - left))
    for i in 0..<rows {
        let line = lines + i * length
        guard top + i >= 0 && top + i < height else {
            line.update(repeating: 0, count: length)
            continue
        }
        line.update(repeating: 0, count: lo)
        (line + lo).update(from: plane + (top + i) * width + left + lo, count: hi - lo)
        (line + hi).update(repeating: 0, count: length - hi)
    }
}

/// Line length for a run of `tiles` tiles: whole groups of four tiles, plus the group after the last
/// when the tiles' windows reach into the next tile (the input's 6x6 windows overlap by two columns).
@inline(__always)
private func lineLength(tiles: Int, overlapping: Bool) -> Int { 4 * roundedToLanes(tiles) + (overlapping ? 16 : 0) }

/// A separable 1-D transform of the windows under a run of tiles, applied down the columns of the copied
/// lines and then along the rows: Bᵀ d B of the inputs' 6x6 windows, or A y Aᵀ of the output gradients'
/// 4x4 blocks. The two passes and the copying are shared in `transformWindows`.
private protocol WindowTransform {
    /// Rows (and columns) of a tile's window.
    static var size: Int { get }
    /// The six transformed values of the window column starting at `top`, its rows `stride` apart.
    static func column(_ top: UnsafePointer<Float>, stride: Int) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
    /// The six transformed values of the window rows of four tiles starting at `line`.
    static func row(_ line: UnsafePointer<Float>) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
}

private enum InputWindows: WindowTransform {
    static var size: Int { 6 }

    @inline(__always)
    static func column(_ d: UnsafePointer<Float>, stride: Int) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        inputTransform(load(d), load(d + stride), load(d + 2 * stride), load(d + 3 * stride), load(d + 4 * stride), load(d + 5 * stride))
    }

    @inline(__always)
    static func row(_ line: UnsafePointer<Float>) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        // Columns 4 and 5 of tile k are columns 0 and 1 of tile k + 1.
        let (p0, p1, p2, p3) = phases(line), (next0, next1, _, _) = phases(line + 4)
        return inputTransform(p0, p1, p2, p3, next0, next1)
    }
}

private enum OutputGradientBlocks: WindowTransform {
    static var size: Int { 4 }

    @inline(__always)
    static func column(_ y: UnsafePointer<Float>, stride: Int) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        outputTransformAdjoint(load(y), load(y + stride), load(y + 2 * stride), load(y + 3 * stride))
    }

    @inline(__always)
    static func row(_ line: UnsafePointer<Float>) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let (p0, p1, p2, p3) = phases(line)
        return outputTransformAdjoint(p0, p1, p2, p3)
    }
}

/// T[ξ][c][t] for every channel c of `planes` (height x width planes, read from `padding` before each
/// tile's corner) and every tile t of the chunk.
private func transformWindows<Transform: WindowTransform>(_: Transform.Type, _ planes: UnsafePointer<Float>, channels: Int,
                                                          height: Int, width: Int, padding: Int, _ plan: WinogradPlan,
                                                          chunk: Range<Int>, into target: UnsafeMutablePointer<Float>) {
    let columns = transformedColumns(tiles: chunk.count), step = transformedPlaneStride(rows: channels, columns: columns)
    // The 6x6 input windows overlap their neighbours by two columns; the 4x4 blocks do not.
    let overlapping = Transform.size > 4, window = Transform.size
    let runs = plan.runs(chunk), longest = lineLength(tiles: plan.tilesAcross, overlapping: overlapping)
    forEachSlice(of: channels) { slice in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (window + 6) * longest) { scratch in
            for c in slice {
                for run in runs {
                    let length = lineLength(tiles: run.count, overlapping: overlapping)
                    let lines = scratch.baseAddress!, rows = lines + window * length
                    copyLines(planes + (run.sample * channels + c) * height * width, height: height, width: width,
                              top: run.top - padding, left: run.left - padding, rows: window, length: length, into: lines)
                    for x in stride(from: 0, to: length, by: 4) {
                        storeSix(Transform.column(lines + x, stride: length), rows + x, step: length)
                    }
                    for i in 0..<6 {
                        let row = rows + i * length, out = target + 6 * i * step + c * columns + run.column
                        for k in stride(from: 0, to: run.count, by: 4) { storeSix(Transform.row(row + 4 * k), out + k, step: step) }
                    }
                }
            }
        }
    }
}

/// V[ξ][c][t]: Bᵀ d B of the 6x6 input window of every tile of the chunk, for every channel.
private func transformInputs(_ input: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into v: UnsafeMutablePointer<Float>) {
    let g = plan.geometry
    transformWindows(InputWindows.self, input, channels: g.inChannels, height: g.height, width: g.width, padding: g.padding,
                     plan, chunk: chunk, into: v)
}

/// Z[ξ][o][t]: A y Aᵀ of the 4x4 output-gradient block y of every tile of the chunk (zero beyond the
/// output's edge), for every output channel.
private func transformOutputGradients(_ gradient: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>,
                                      into z: UnsafeMutablePointer<Float>) {
    let g = plan.geometry
    transformWindows(OutputGradientBlocks.self, gradient, channels: g.outChannels, height: g.outHeight, width: g.outWidth,
                     padding: 0, plan, chunk: chunk, into: z)
}

/// Output blocks Aᵀ M A of the chunk's tiles from M[ξ][o][t], cropped at the output's edge, with the
/// epilogue applied as they are written.
private func transformOutputs(_ m: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into output: UnsafeMutablePointer<Float>,
                              epilogue: ConvEpilogue) {
    let g = plan.geometry, columns = transformedColumns(tiles: chunk.count)
    let step = transformedPlaneStride(rows: g.outChannels, columns: columns)
    let runs = plan.runs(chunk), longest = lineLength(tiles: plan.tilesAcross, overlapping: false)
    forEachSlice(of: g.outChannels) { channels in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 10 * longest) { scratch in
            for o in channels {
                let bias = Lanes(repeating: epilogue.bias?[o] ?? 0)
                for run in runs {
                    let length = lineLength(tiles: run.count, overlapping: false)
                    let rows = scratch.baseAddress!, block = rows + 6 * length
                    for a in 0..<6 {
                        let products = m + 6 * a * step + o * columns + run.column, row = rows + a * length
                        for k in stride(from: 0, to: run.count, by: 4) {
                            let p = products + k
                            let (q0, q1, q2, q3) = outputTransform(load(p), load(p + step), load(p + 2 * step), load(p + 3 * step),
                                                                   load(p + 4 * step), load(p + 5 * step))
                            storeInImageOrder(q0, q1, q2, q3, row + 4 * k)
                        }
                    }
                    for x in stride(from: 0, to: length, by: 4) {
                        let r = rows + x
                        let y = outputTransform(load(r), load(r + length), load(r + 2 * length), load(r + 3 * length),
                                                load(r + 4 * length), load(r + 5 * length))
                        store(epilogue.apply(y.0 + bias), block + x)
                        store(epilogue.apply(y.1 + bias), block + length + x)
                        store(epilogue.apply(y.2 + bias), block + 2 * length + x)
                        store(epilogue.apply(y.3 + bias), block + 3 * length + x)
                    }
                    let plane = output + (run.sample * g.outChannels + o) * g.outPixels
                    let visible = min(4 * run.count, g.outWidth - run.left)
                    for i in 0..<min(4, g.outHeight - run.top) {
                        (plane + (run.top + i) * g.outWidth + run.left).update(from: block + i * length, count: visible)
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
        let (n, columns) = (chunk.count, transformedColumns(tiles: chunk.count))
        let (inputStride, outputStride) = (transformedPlaneStride(rows: c, columns: columns), transformedPlaneStride(rows: o, columns: columns))
        let v = Workspace.buffer(.winogradInput, 36 * inputStride), m = Workspace.buffer(.winogradProducts, 36 * outputStride)
        transformInputs(input, plan, chunk: chunk, into: v)
        forEachSlice(of: 36, gemmsOnCallingThread: true) { positions in
            for xi in positions {
                gemm(transposeA: transposedFilter, transposeB: false, m: o, n: n, k: c, a: u + xi * o * c, lda: transposedFilter ? o : c,
                     b: v + xi * inputStride, ldb: columns, c: m + xi * outputStride, ldc: columns, accumulate: false)
            }
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
        let (n, columns) = (chunk.count, transformedColumns(tiles: chunk.count))
        let (inputStride, outputStride) = (transformedPlaneStride(rows: c, columns: columns), transformedPlaneStride(rows: o, columns: columns))
        let v = Workspace.buffer(.winogradInput, 36 * inputStride), z = Workspace.buffer(.winogradProducts, 36 * outputStride)
        transformInputs(input, plan, chunk: chunk, into: v)
        transformOutputGradients(outputGradient, plan, chunk: chunk, into: z)
        forEachSlice(of: 36, gemmsOnCallingThread: true) { positions in
            for xi in positions {
                gemm(transposeA: false, transposeB: true, m: o, n: c, k: n, a: z + xi * outputStride, lda: columns, b: v + xi * inputStride,
                     ldb: columns, c: du + xi * o * c, ldc: c, accumulate: index > 0)
            }
        }
    }
    filterTransformMatrix.withUnsafeBufferPointer { matrix in
        gemm(transposeA: true, transposeB: false, m: o * c, n: 9, k: 36, a: du, lda: o * c, b: matrix.baseAddress!, ldb: 9,
             c: filterGradient, ldc: 9, accumulate: false)
    }
}
