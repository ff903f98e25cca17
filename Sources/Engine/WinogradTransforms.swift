import CBLAS

// The Winograd F(4x4, 3x3) transforms of inputs, outputs and output gradients, on SIMD4 lanes of four
// tiles; `Winograd.swift` plans the chunks and runs the GEMMs between them.

// MARK: - The three 1-D transforms and their adjoints
//
// Applied to four tiles at once: lane t of every argument belongs to tile k + t of a run.

/// Four consecutive tiles of a run, one per lane.
private typealias Lanes = SIMD4<Float>

/// Bᵀ applied to six values.
@inline(__always)
private func inputTransform(
    _ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes
)
    -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
{
    let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ applied to six values.
@inline(__always)
private func outputTransform(
    _ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes
)
    -> (Lanes, Lanes, Lanes, Lanes)
{
    let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
    return (
        m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m5
    )
}

/// A (the adjoint of Aᵀ) applied to four values.
@inline(__always)
private func outputTransformAdjoint(
    _ y0: Lanes, _ y1: Lanes, _ y2: Lanes, _ y3: Lanes
)
    -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
{
    let even = y0 + y2, odd = y1 + y3, even4 = y0 + 4 * y2, odd8 = 2 * y1 + 8 * y3
    return (y0, even + odd, even - odd, even4 + odd8, even4 - odd8, y3)
}

/// G ⊗ G as a [36, 9] matrix: row ξ = 6a + b, column 3i + j holds G[a][i]·G[b][j], so the transformed
/// filters of all channel pairs are one GEMM with the [O·C, 9] filter tensor.
let filterTransformMatrix: [Float] = {
    let g: [[Double]] = [
        [1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
        [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1],
    ]
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
let flippedFilterTransformMatrix: [Float] = (0..<36).flatMap { xi in
    (0..<9).map { filterTransformMatrix[xi * 9 + 8 - $0] }
}

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
private func storeInImageOrder(_ q0: Lanes, _ q1: Lanes, _ q2: Lanes, _ q3: Lanes, _ line: UnsafeMutablePointer<Float>)
{
    store(
        SIMD16(
            q0[0], q1[0], q2[0], q3[0], q0[1], q1[1], q2[1], q3[1], q0[2], q1[2], q2[2], q3[2], q0[3], q1[3], q2[3],
            q3[3]), line)
}

/// Stores six vectors `step` apart: six rows of lines, or six consecutive transformed planes.
@inline(__always)
private func storeSix(
    _ values: (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes), _ target: UnsafeMutablePointer<Float>, step: Int
) {
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
private func copyLines(
    _ plane: UnsafePointer<Float>, height: Int, width: Int, top: Int, left: Int, rows: Int, length: Int,
    into lines: UnsafeMutablePointer<Float>
) {
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
        inputTransform(
            load(d), load(d + stride), load(d + 2 * stride), load(d + 3 * stride), load(d + 4 * stride),
            load(d + 5 * stride))
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

/// Channels per block of a tile transform: the transforms of a channel write its own rows of the 36
/// matrices, so channels are shared out, as many per block as make `elementwiseGrain` values.
private func transformGrain(tiles: Int) -> Int { elementwiseGrain / (36 * tiles) }

/// T[ξ][c][t] for every channel c of `planes` (height x width planes, read from `padding` before each
/// tile's corner) and every tile t of the chunk.
private func transformWindows<Transform: WindowTransform>(
    _: Transform.Type, _ planes: UnsafePointer<Float>, channels: Int,
    height: Int, width: Int, padding: Int, _ plan: WinogradPlan,
    chunk: Range<Int>, into target: UnsafeMutablePointer<Float>
) {
    let columns = transformedColumns(tiles: chunk.count),
        step = transformedPlaneStride(rows: channels, columns: columns)
    // The 6x6 input windows overlap their neighbours by two columns; the 4x4 blocks do not.
    let overlapping = Transform.size > 4, window = Transform.size
    let runs = plan.runs(chunk), longest = lineLength(tiles: plan.tilesAcross, overlapping: overlapping)
    parallelRanges(channels, grain: transformGrain(tiles: chunk.count)) { slice in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (window + 6) * longest) { scratch in
            for c in slice {
                for run in runs {
                    let length = lineLength(tiles: run.count, overlapping: overlapping)
                    let lines = scratch.baseAddress!, rows = lines + window * length
                    copyLines(
                        planes + (run.sample * channels + c) * height * width, height: height, width: width,
                        top: run.top - padding, left: run.left - padding, rows: window, length: length, into: lines)
                    for x in stride(from: 0, to: length, by: 4) {
                        storeSix(Transform.column(lines + x, stride: length), rows + x, step: length)
                    }
                    for i in 0..<6 {
                        let row = rows + i * length, out = target + 6 * i * step + c * columns + run.column
                        for k in stride(from: 0, to: run.count, by: 4) {
                            storeSix(Transform.row(row + 4 * k), out + k, step: step)
                        }
                    }
                }
            }
        }
    }
}

/// V[ξ][c][t]: Bᵀ d B of the 6x6 input window of every tile of the chunk, for every channel.
func transformInputs(
    _ input: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into v: UnsafeMutablePointer<Float>
) {
    let g = plan.geometry
    transformWindows(
        InputWindows.self, input, channels: g.inChannels, height: g.height, width: g.width, padding: g.padding,
        plan, chunk: chunk, into: v)
}

/// Z[ξ][o][t]: A y Aᵀ of the 4x4 output-gradient block y of every tile of the chunk (zero beyond the
/// output's edge), for every output channel.
func transformOutputGradients(
    _ gradient: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>,
    into z: UnsafeMutablePointer<Float>
) {
    let g = plan.geometry
    transformWindows(
        OutputGradientBlocks.self, gradient, channels: g.outChannels, height: g.outHeight, width: g.outWidth,
        padding: 0, plan, chunk: chunk, into: z)
}

/// Output blocks Aᵀ M A of the chunk's tiles from M[ξ][o][t], cropped at the output's edge, with the
/// epilogue applied as they are written.
func transformOutputs(
    _ m: UnsafePointer<Float>, _ plan: WinogradPlan, chunk: Range<Int>, into output: UnsafeMutablePointer<Float>,
    epilogue: ConvEpilogue
) {
    let g = plan.geometry, columns = transformedColumns(tiles: chunk.count)
    let step = transformedPlaneStride(rows: g.outChannels, columns: columns)
    let runs = plan.runs(chunk), longest = lineLength(tiles: plan.tilesAcross, overlapping: false)
    parallelRanges(g.outChannels, grain: transformGrain(tiles: chunk.count)) { channels in
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
                            let (q0, q1, q2, q3) = outputTransform(
                                load(p), load(p + step), load(p + 2 * step), load(p + 3 * step),
                                load(p + 4 * step), load(p + 5 * step))
                            storeInImageOrder(q0, q1, q2, q3, row + 4 * k)
                        }
                    }
                    for x in stride(from: 0, to: length, by: 4) {
                        let r = rows + x
                        let y = outputTransform(
                            load(r), load(r + length), load(r + 2 * length), load(r + 3 * length),
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
