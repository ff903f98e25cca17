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
        return slabCount
            * (ConvGeometry.gemmCost(rows: Double(outChannels), columns: columns, inner: patch)
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
            runs.append(
                TileRun(sample: sample, top: row * 4, left: column * 4, count: count, column: index - chunk.lowerBound))
            index += count
        }
        return runs
    }
}

struct TileRun {
    let sample: Int, top: Int, left: Int, count: Int, column: Int
}

// MARK: - Kernels

/// Transformed filters U[ξ] = G g Gᵀ of an [O, C, 3, 3] filter as [36][O][C], or of the filter rotated
/// by 180 degrees when `flipped` (still indexed [ξ][o][c]).
private func transformFilters(
    _ filter: UnsafePointer<Float>, outChannels: Int, inChannels: Int, flipped: Bool,
    into u: UnsafeMutablePointer<Float>
) {
    let pairs = outChannels * inChannels
    (flipped ? flippedFilterTransformMatrix : filterTransformMatrix).withUnsafeBufferPointer { matrix in
        panelGemm(
            transposeA: false, transposeB: true, m: 36, n: pairs, k: 9, a: matrix.baseAddress!, lda: 9, b: filter,
            ldb: 9,
            c: u, ldc: pairs, accumulate: false)
    }
}

/// A chunk's tile count and transformed width, and its two workspace matrices: the transformed inputs
/// (36 planes of [inChannels, columns]) and the products or transformed output gradients (36 planes of
/// [outChannels, columns]).
private struct ChunkWorkspace {
    let tiles: Int
    let columns: Int
    let inputs: UnsafeMutablePointer<Float>
    let outputs: UnsafeMutablePointer<Float>
    private let inputStride: Int
    private let outputStride: Int

    init(_ chunk: Range<Int>, inChannels c: Int, outChannels o: Int) {
        (tiles, columns) = (chunk.count, transformedColumns(tiles: chunk.count))
        inputStride = transformedPlaneStride(rows: c, columns: columns)
        outputStride = transformedPlaneStride(rows: o, columns: columns)
        inputs = Workspace.buffer(.winogradInput, 36 * inputStride)
        outputs = Workspace.buffer(.winogradProducts, 36 * outputStride)
    }

    func input(_ plane: Int) -> UnsafeMutablePointer<Float> { inputs + plane * inputStride }
    func output(_ plane: Int) -> UnsafeMutablePointer<Float> { outputs + plane * outputStride }
}

/// A 3x3 conv of `input` by the transformed filter `u` ([36][O][C], or [36][C][O] read transposed when
/// `transposedFilter`), written to `output` through `epilogue`.
private func winogradConvolve(
    input: UnsafePointer<Float>, transformedFilter u: UnsafePointer<Float>, transposedFilter: Bool,
    output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, epilogue: ConvEpilogue
) {
    let plan = WinogradPlan(g)
    let (c, o) = (g.inChannels, g.outChannels)
    for chunk in plan.chunks {
        let work = ChunkWorkspace(chunk, inChannels: c, outChannels: o)
        let (n, columns) = (work.tiles, work.columns)
        transformInputs(input, plan, chunk: chunk, into: work.inputs)
        // The 36 GEMMs of a chunk are shared out whole, one thread each, rather than each split across
        // threads that would meet after every call.
        parallelForEach(36, itemSize: gemmItemSize(o, n, c)) { xi in
            gemm(
                transposeA: transposedFilter, transposeB: false, m: o, n: n, k: c, a: u + xi * o * c,
                lda: transposedFilter ? o : c,
                b: work.input(xi), ldb: columns, c: work.output(xi), ldc: columns, accumulate: false)
        }
        transformOutputs(work.outputs, plan, chunk: chunk, into: output, epilogue: epilogue)
    }
}

/// A GEMM of m x n x k as a number of elements of a pointwise op that take about as long (about 12
/// multiply-adds each, at the rate of the small GEMMs here), so that a layer of tiny GEMMs runs them in
/// a few blocks instead of waking every thread for each.
private func gemmItemSize(_ m: Int, _ n: Int, _ k: Int) -> Int { m * n * k / 12 }

/// y = conv(x, w), through F(4x4, 3x3).
func winogradForward(
    input: UnsafePointer<Float>, filter: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
    epilogue: ConvEpilogue
) {
    let u = Workspace.buffer(.winogradFilter, 36 * g.outChannels * g.inChannels)
    transformFilters(filter, outChannels: g.outChannels, inChannels: g.inChannels, flipped: false, into: u)
    winogradConvolve(input: input, transformedFilter: u, transposedFilter: false, output: output, g, epilogue: epilogue)
}

/// dx = convᵀ(dy, w): the conv of dy by the rotated filter with input and output channels swapped,
/// padding 2 - p, which maps the output's size back to the input's.
func winogradBackwardData(
    outputGradient: UnsafePointer<Float>, filter: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry
) {
    let transposed = ConvGeometry(
        batch: g.batch, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
        outChannels: g.inChannels, kernel: 3, padding: 2 - g.padding)
    let u = Workspace.buffer(.winogradFilter, 36 * g.outChannels * g.inChannels)
    transformFilters(filter, outChannels: g.outChannels, inChannels: g.inChannels, flipped: true, into: u)
    winogradConvolve(
        input: outputGradient, transformedFilter: u, transposedFilter: true, output: inputGradient, transposed,
        epilogue: .identity)
}

/// dw = Gᵀ [Σ over tiles of (A dY Aᵀ) ⊙ (Bᵀ d B)] G: per ξ one GEMM Z[ξ] (O x tiles) · V[ξ]ᵀ, summed
/// over chunks, then one GEMM back to 3x3.
func winogradBackwardFilter(
    input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    filterGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    let plan = WinogradPlan(g)
    let (c, o) = (g.inChannels, g.outChannels)
    let du = Workspace.buffer(.winogradFilter, 36 * o * c)
    for (index, chunk) in plan.chunks.enumerated() {
        let work = ChunkWorkspace(chunk, inChannels: c, outChannels: o)
        let (n, columns) = (work.tiles, work.columns)
        transformInputs(input, plan, chunk: chunk, into: work.inputs)
        transformOutputGradients(outputGradient, plan, chunk: chunk, into: work.outputs)
        parallelForEach(36, itemSize: gemmItemSize(o, n, c)) { xi in
            gemm(
                transposeA: false, transposeB: true, m: o, n: c, k: n, a: work.output(xi), lda: columns,
                b: work.input(xi),
                ldb: columns, c: du + xi * o * c, ldc: c, accumulate: index > 0)
        }
    }
    filterTransformMatrix.withUnsafeBufferPointer { matrix in
        panelGemm(
            transposeA: true, transposeB: false, m: o * c, n: 9, k: 36, a: du, lda: o * c, b: matrix.baseAddress!,
            ldb: 9,
            c: filterGradient, ldc: 9, accumulate: false)
    }
}
