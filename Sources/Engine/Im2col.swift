// 3x3 and 1x1 convolutions through im2col + sgemm (see Sources/Engine/README.md). Each step of a slab is
// shared out over the engine's threads in blocks fixed by the shapes: patch rows and planes by channel,
// the GEMMs by `panelGemm`'s panels.

/// Visits the rows of a [patch, leading] matrix that belong to input channel `c`, one per kernel
/// position (`ki`, `kj`), with the row's offset in the matrix and the output columns `lo..<hi` whose
/// input column x + kj - pad falls inside the image.
@inline(__always)
private func forEachPatchRow(
    _ g: ConvGeometry, channel c: Int, leading: Int,
    _ body: (_ ki: Int, _ kj: Int, _ rowStart: Int, _ lo: Int, _ hi: Int) -> Void
) {
    let (k, pad, w, ow) = (g.kernel, g.padding, g.width, g.outWidth)
    for ki in 0..<k {
        for kj in 0..<k {
            let lo = min(max(0, pad - kj), ow), hi = max(lo, min(ow, w + pad - kj))
            body(ki, kj, ((c * k + ki) * k + kj) * leading, lo, hi)
        }
    }
}

/// Writes the patches of output rows `rows` of one sample's channel `c` as columns `columnOffset ...` of
/// a [patch, leading] matrix.
private func im2col(
    _ image: UnsafePointer<Float>, _ g: ConvGeometry, channel c: Int, rows: Range<Int>,
    into columns: UnsafeMutablePointer<Float>, leading: Int, columnOffset: Int
) {
    let (pad, h, w, ow) = (g.padding, g.height, g.width, g.outWidth)
    forEachPatchRow(g, channel: c, leading: leading) { ki, kj, rowStart, lo, hi in
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

/// Adds the rows of channel `c` of a [patch, leading] matrix back onto the pixels they were read from
/// (the adjoint of `im2col`).
private func col2imAccumulate(
    _ columns: UnsafePointer<Float>, _ g: ConvGeometry, channel c: Int, rows: Range<Int>, leading: Int,
    columnOffset: Int, into image: UnsafeMutablePointer<Float>
) {
    let (pad, h, w, ow) = (g.padding, g.height, g.width, g.outWidth)
    forEachPatchRow(g, channel: c, leading: leading) { ki, kj, rowStart, lo, hi in
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
    parallelForEach(samples * channels, itemSize: pixels) { item in
        let (s, c) = item.quotientAndRemainder(dividingBy: channels)
        let plane = nchw + (s * channels + c) * pixels, row = matrix + c * leading + s * pixels
        if toMatrix { row.update(from: plane, count: pixels) } else { plane.update(from: row, count: pixels) }
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
    parallelForEach(slab.count * g.inChannels, itemSize: g.kernel * g.kernel * slab.rows.count * g.outWidth) { item in
        let (s, c) = item.quotientAndRemainder(dividingBy: g.inChannels)
        im2col(
            input + (slab.first + s) * g.inChannels * g.inPixels, g, channel: c, rows: slab.rows, into: columns,
            leading: leading, columnOffset: s * g.outPixels)
    }
    return (columns, leading)
}

/// y = epilogue(conv(x, w)), per slab one GEMM [O, patch] · [patch, slab columns].
func im2colForward(
    input: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, _ g: ConvGeometry, epilogue: ConvEpilogue
) {
    for slab in g.slabs {
        let columns = slab.count * slab.rows.count * g.outWidth
        let (patchMatrix, patchLeading) = patches(of: input, g, slab)
        let target = slabMatrix(output, channels: g.outChannels, g, slab, staged: false)
        panelGemm(
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
func im2colBackwardData(
    outputGradient: UnsafeMutablePointer<Float>, filter: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
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
            panelGemm(
                transposeA: true, transposeB: false, m: g.patch, n: columns, k: g.outChannels,
                a: filter, lda: g.patch, b: dy.pointer, ldb: dy.leading, c: dx.pointer, ldc: dx.leading,
                accumulate: false)
            continue
        }
        let gradientColumns = Workspace.columns(g.patch * columns)
        panelGemm(
            transposeA: true, transposeB: false, m: g.patch, n: columns, k: g.outChannels,
            a: filter, lda: g.patch, b: dy.pointer, ldb: dy.leading, c: gradientColumns, ldc: columns, accumulate: false
        )
        parallelForEach(g.inChannels, itemSize: g.kernel * g.kernel * columns) { c in
            for s in 0..<slab.count {
                col2imAccumulate(
                    gradientColumns, g, channel: c, rows: slab.rows, leading: columns, columnOffset: s * g.outPixels,
                    into: inputGradient + (slab.first + s) * g.inChannels * g.inPixels)
            }
        }
    }
}

/// dw = Σ dy · im2col(x)ᵀ over the batch, one GEMM [O, slab columns] · [slab columns, patch] per slab.
func im2colBackwardFilter(
    input: UnsafeMutablePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
    filterGradient: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
    filterGradient.initialize(repeating: 0, count: g.outChannels * g.patch)
    for slab in g.slabs {
        let columns = slab.count * slab.rows.count * g.outWidth
        // The patches go to the columns workspace and the gradient to staging: both live at once.
        let (patchMatrix, patchLeading) = patches(of: input, g, slab)
        let dy = slabMatrix(outputGradient, channels: g.outChannels, g, slab, staged: true)
        panelGemm(
            transposeA: false, transposeB: true, m: g.outChannels, n: g.patch, k: columns,
            a: dy.pointer, lda: dy.leading, b: patchMatrix, ldb: patchLeading, c: filterGradient, ldc: g.patch,
            accumulate: true)
    }
}
