import Foundation

/// Multi-scale structural similarity (Wang et al. 2003) of two images, as the paper's diversity measure
/// computes it (official metrics/ms_ssim.py, after TensorFlow's msssim.py): five scales weighted
/// 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; an 11x11 Gaussian window of sigma 1.5, shrunk with the image
/// at small scales; "valid" filtering; 2x2 averaging between scales; values in 0...255.
/// Identical images give 1; unrelated ones about 0.
public func multiScaleSSIM(_ first: ImageBatch, _ second: ImageBatch) -> Double {
    precondition(
        first.count == 1 && second.count == 1 && first.side == second.side,
        "multiScaleSSIM compares two single images of one size")
    let weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    precondition(first.side >> (weights.count - 1) >= 1, "MS-SSIM needs images of at least 16x16")
    var images = (first, second)
    var product = 1.0
    for (scale, weight) in weights.enumerated() {
        let (similarity, contrastStructure) = structuralSimilarity(images.0, images.1)
        // Negative terms are clipped to zero, as in the reference, so the fractional powers stay real.
        product *= pow(max(scale == weights.count - 1 ? similarity : contrastStructure, 0), weight)
        images = (averagedDown(images.0), averagedDown(images.1))
    }
    return product
}

/// Mean SSIM and mean contrast-structure term over all valid window positions and channels.
private func structuralSimilarity(_ first: ImageBatch, _ second: ImageBatch) -> (Double, Double) {
    let side = first.side, windowSide = min(11, side), outputSide = side - windowSide + 1
    let window = gaussianWindow(side: windowSide, sigma: Double(windowSide) * 1.5 / 11)
    let c1 = pow(0.01 * 255, 2.0), c2 = pow(0.03 * 255, 2.0)
    var similarity = 0.0, contrastStructure = 0.0
    for channel in 0..<ImageBatch.channels {
        let offset = channel * side * side
        for y in 0..<outputSide {
            for x in 0..<outputSide {
                var mean1 = 0.0, mean2 = 0.0, square1 = 0.0, square2 = 0.0, cross = 0.0
                for v in 0..<windowSide {
                    for u in 0..<windowSide {
                        let w = window[v] * window[u], index = offset + (y + v) * side + x + u
                        let a = Double(first.values[index]), b = Double(second.values[index])
                        mean1 += w * a
                        mean2 += w * b
                        square1 += w * a * a
                        square2 += w * b * b
                        cross += w * a * b
                    }
                }
                let variance1 = square1 - mean1 * mean1, variance2 = square2 - mean2 * mean2,
                    covariance = cross - mean1 * mean2
                let structure = (2 * covariance + c2) / (variance1 + variance2 + c2)
                contrastStructure += structure
                similarity += (2 * mean1 * mean2 + c1) / (mean1 * mean1 + mean2 * mean2 + c1) * structure
            }
        }
    }
    let positions = Double(ImageBatch.channels * outputSide * outputSide)
    return (similarity / positions, contrastStructure / positions)
}

/// One axis of MATLAB's fspecial('gaussian'), normalized; an even side samples at half-integer offsets.
/// The 2-D window is its outer product with itself.
private func gaussianWindow(side: Int, sigma: Double) -> [Double] {
    let centre = Double(side - 1) / 2
    let values = (0..<side).map { exp(-pow(Double($0) - centre, 2) / (2 * sigma * sigma)) }
    let total = values.reduce(0, +)
    return values.map { $0 / total }
}

private func averagedDown(_ image: ImageBatch) -> ImageBatch {
    let side = image.side / 2
    guard side > 0 else { return image }
    var values = [Float](repeating: 0, count: ImageBatch.channels * side * side)
    for channel in 0..<ImageBatch.channels {
        for y in 0..<side {
            for x in 0..<side {
                let source = channel * image.side * image.side + 2 * y * image.side + 2 * x
                values[(channel * side + y) * side + x] =
                    (image.values[source] + image.values[source + 1]
                        + image.values[source + image.side] + image.values[source + image.side + 1]) * 0.25
            }
        }
    }
    return ImageBatch(count: 1, side: side, values: values)
}
