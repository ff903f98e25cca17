/// The Laplacian pyramid of the official SWD metric (cv2.pyrDown / pyrUp semantics): a 5x5 binomial
/// filter ([1 4 6 4 1] / 16 in each direction) with whole-sample mirrored borders (d c b | a b c d | c b a).
/// Level 0 is full resolution; each level holds itself minus the upsampled next level, and the last
/// level stays a low-pass image, so `reconstructed(fromLaplacian:)` recovers the input.
public func laplacianPyramid(_ images: ImageBatch, levels: Int) -> [ImageBatch] {
    precondition(
        levels >= 1 && images.side >> (levels - 1) >= 4,
        "\(levels) levels do not fit \(images.side)x\(images.side) images")
    var pyramid = [images]
    for _ in 1..<levels {
        let smaller = pyramidDown(pyramid[pyramid.count - 1])
        let detail = pyramidUp(smaller)
        for index in pyramid[pyramid.count - 1].values.indices {
            pyramid[pyramid.count - 1].values[index] -= detail.values[index]
        }
        pyramid.append(smaller)
    }
    return pyramid
}

public func reconstructed(fromLaplacian pyramid: [ImageBatch]) -> ImageBatch {
    var image = pyramid[pyramid.count - 1]
    for level in pyramid.dropLast().reversed() {
        image = pyramidUp(image)
        for index in image.values.indices { image.values[index] += level.values[index] }
    }
    return image
}

/// Blur, then keep every second pixel: half the side.
public func pyramidDown(_ images: ImageBatch) -> ImageBatch {
    precondition(images.side % 2 == 0, "pyramidDown needs an even side, got \(images.side)")
    let side = images.side, outputSide = side / 2
    var output = [Float](repeating: 0, count: images.count * ImageBatch.channels * outputSide * outputSide)
    images.values.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { result in
            for plane in 0..<images.count * ImageBatch.channels {
                binomialFilter(
                    input.baseAddress! + plane * side * side, side: side,
                    into: result.baseAddress! + plane * outputSide * outputSide, outputSide: outputSide, stride: 2,
                    gain: 1)
            }
        }
    }
    return ImageBatch(count: images.count, side: outputSide, values: output)
}

/// Insert zeros between pixels, then blur with four times the filter: double the side.
public func pyramidUp(_ images: ImageBatch) -> ImageBatch {
    let side = images.side, outputSide = side * 2
    var output = [Float](repeating: 0, count: images.count * ImageBatch.channels * outputSide * outputSide)
    var spread = [Float](repeating: 0, count: outputSide * outputSide)
    images.values.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { result in
            for plane in 0..<images.count * ImageBatch.channels {
                let source = input.baseAddress! + plane * side * side
                for y in 0..<side { for x in 0..<side { spread[2 * y * outputSide + 2 * x] = source[y * side + x] } }
                binomialFilter(
                    spread, side: outputSide,
                    into: result.baseAddress! + plane * outputSide * outputSide, outputSide: outputSide, stride: 1,
                    gain: 4)
            }
        }
    }
    return ImageBatch(count: images.count, side: outputSide, values: output)
}

private let binomialTaps: [Double] = [1, 4, 6, 4, 1].map { $0 / 16 }

/// output[y][x] = gain * Σ taps[a] taps[b] input[m(stride y + a - 2)][m(stride x + b - 2)], summed in
/// double as scipy.ndimage.convolve does.
private func binomialFilter(
    _ input: UnsafePointer<Float>, side: Int, into output: UnsafeMutablePointer<Float>,
    outputSide: Int, stride: Int, gain: Double
) {
    func mirrored(_ index: Int) -> Int {
        let reflected = index < 0 ? -index : index
        return reflected >= side ? 2 * (side - 1) - reflected : reflected
    }
    // Output row y and column y read the same five mirrored input indices.
    let taps = (0..<outputSide).flatMap { position in (0..<5).map { mirrored(stride * position + $0 - 2) } }
    for y in 0..<outputSide {
        for x in 0..<outputSide {
            var sum = 0.0
            for a in 0..<5 {
                let row = input + taps[5 * y + a] * side
                var rowSum = 0.0
                for b in 0..<5 { rowSum += binomialTaps[b] * Double(row[taps[5 * x + b]]) }
                sum += binomialTaps[a] * rowSum
            }
            output[y * outputSide + x] = Float(gain * sum)
        }
    }
}
