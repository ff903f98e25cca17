import ImageIO

extension RGBImage {
    /// The largest centred square; an odd margin leaves the extra column or row on the right or bottom.
    func centreCropped() -> RGBImage {
        guard width != height else { return self }
        let side = min(width, height)
        let left = (width - side) / 2, top = (height - side) / 2
        var cropped: [UInt8] = []
        cropped.reserveCapacity(side * side * 3)
        for y in top..<top + side {
            let rowStart = 3 * (y * width + left)
            cropped += pixels[rowStart..<rowStart + 3 * side]
        }
        return RGBImage(width: side, height: side, pixels: cropped)
    }

    /// Resizes a square image by area averaging: every output pixel is the
    /// mean of the source area it covers, each source pixel weighted by its
    /// exact overlap, rounded half up. Halving is thus the 2x2 box filter,
    /// constant images stay constant at any ratio, and upscaling by a whole
    /// factor replicates pixels.
    func areaResized(toSide side: Int) -> RGBImage {
        precondition(width == height, "areaResized needs a square image, got \(width)x\(height)")
        guard side != width else { return self }
        let axis = Self.areaWeights(from: width, to: side)
        // Each axis's weights sum to `width`, so a 2-D mean divides by its square.
        let totalWeight = width * width
        var resized = [UInt8](repeating: 0, count: side * side * 3)
        // One source row's worth of vertically weighted sums, reused per output row,
        // so memory stays proportional to a row even for 16384-pixel sources.
        var columnSums = [Int](repeating: 0, count: width * 3)
        for (outputY, rows) in axis.enumerated() {
            for index in columnSums.indices { columnSums[index] = 0 }
            for (offset, weight) in rows.weights.enumerated() {
                let rowStart = (rows.first + offset) * width * 3
                for index in columnSums.indices {
                    columnSums[index] += weight * Int(pixels[rowStart + index])
                }
            }
            for (outputX, columns) in axis.enumerated() {
                for channel in 0..<3 {
                    var sum = 0
                    for (offset, weight) in columns.weights.enumerated() {
                        sum += weight * columnSums[(columns.first + offset) * 3 + channel]
                    }
                    resized[(outputY * side + outputX) * 3 + channel] = UInt8((sum + totalWeight / 2) / totalWeight)
                }
            }
        }
        return RGBImage(width: side, height: side, pixels: resized)
    }

    /// For each of `target` output pixels along an axis of `source` pixels: the
    /// first source pixel it overlaps and the overlap with it and its successors.
    /// Lengths are in units where a source pixel is `target` long and an output
    /// pixel `source` long, so both span source * target units and every overlap
    /// is a whole number.
    private static func areaWeights(from source: Int, to target: Int) -> [(first: Int, weights: [Int])] {
        (0..<target).map { output in
            let start = output * source, end = start + source
            let first = start / target, last = (end - 1) / target
            let weights = (first...last).map { pixel in
                min((pixel + 1) * target, end) - max(pixel * target, start)
            }
            return (first, weights)
        }
    }
}
