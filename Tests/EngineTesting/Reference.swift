/// Naive, obviously correct kernels in Double: the yardstick the fast float kernels are tested against.
/// Written as direct loops over the definitions, with no attempt at speed.
public enum Reference {
    /// Direct convolution, stride 1, zero padding. `x` is [N, C, H, W], `w` is [O, C, k, k].
    public static func conv2d(
        _ x: [Double], _ xShape: [Int], _ w: [Double], _ wShape: [Int],
        padding: Int
    ) -> [Double] {
        let geometry = ConvGeometry(xShape, wShape, padding: padding)
        var y = [Double](repeating: 0, count: geometry.outputCount)
        geometry.forEachTap { yi, xi, wi in y[yi] += x[xi] * w[wi] }
        return y
    }

    /// [M, K] · [K, N].
    public static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    public static func upsample2x(_ x: [Double], _ shape: [Int]) -> [Double] {
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        var y = [Double](repeating: 0, count: planes * 4 * h * w)
        for p in 0..<planes {
            for i in 0..<(2 * h) {
                for j in 0..<(2 * w) {
                    y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2]
                }
            }
        }
        return y
    }

    public static func avgPool2x2(_ x: [Double], _ shape: [Int]) -> [Double] {
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        var y = [Double](repeating: 0, count: planes * h * w / 4)
        for p in 0..<planes {
            for i in 0..<(h / 2) {
                for j in 0..<(w / 2) {
                    var acc = 0.0
                    for di in 0..<2 { for dj in 0..<2 { acc += x[(p * h + 2 * i + di) * w + 2 * j + dj] } }
                    y[(p * h / 2 + i) * w / 2 + j] = acc / 4
                }
            }
        }
        return y
    }

    public static func pixelNorm(_ x: [Double], _ shape: [Int], epsilon: Double = 1e-8) -> [Double] {
        let (n, c, pixels) = (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
        var y = x
        for s in 0..<n {
            for p in 0..<pixels {
                var meanSquare = 0.0
                for ch in 0..<c { meanSquare += x[(s * c + ch) * pixels + p] * x[(s * c + ch) * pixels + p] }
                let norm = (meanSquare / Double(c) + epsilon).squareRoot()
                for ch in 0..<c { y[(s * c + ch) * pixels + p] /= norm }
            }
        }
        return y
    }

    /// Minibatch stddev with groups of consecutive samples, or with `strided` groups of every
    /// (N / groupSize)-th sample; returns [N, C + 1, H, W].
    public static func minibatchStddev(
        _ x: [Double], _ shape: [Int], groupSize: Int, strided: Bool = false,
        epsilon: Double = 1e-8
    ) -> [Double] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let features = c * h * w, groups = n / groupSize
        func sample(_ group: Int, _ member: Int) -> Int {
            strided ? member * groups + group : group * groupSize + member
        }
        var y = [Double](repeating: 0, count: n * (c + 1) * h * w)
        for group in 0..<groups {
            var stddevSum = 0.0
            for f in 0..<features {
                let values = (0..<groupSize).map { x[sample(group, $0) * features + f] }
                let mean = values.reduce(0, +) / Double(groupSize)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(groupSize)
                stddevSum += (variance + epsilon).squareRoot()
            }
            for member in 0..<groupSize {
                let s = sample(group, member)
                for f in 0..<features { y[s * (c + 1) * h * w + f] = x[s * features + f] }
                for p in 0..<(h * w) { y[(s * (c + 1) + c) * h * w + p] = stddevSum / Double(features) }
            }
        }
        return y
    }
}

extension Reference {
    /// The gradient of `conv2d` with respect to its input: every output gradient scattered back over the
    /// pixels it was computed from.
    public static func conv2dBackwardData(
        _ dy: [Double], _ xShape: [Int], _ w: [Double], _ wShape: [Int],
        padding: Int
    ) -> [Double] {
        var dx = [Double](repeating: 0, count: xShape.reduce(1, *))
        ConvGeometry(xShape, wShape, padding: padding).forEachTap { yi, xi, wi in dx[xi] += dy[yi] * w[wi] }
        return dx
    }

    /// The gradient of `conv2d` with respect to its filter of shape `wShape`.
    public static func conv2dBackwardFilter(
        _ x: [Double], _ xShape: [Int], _ dy: [Double], _ wShape: [Int],
        padding: Int
    ) -> [Double] {
        var dw = [Double](repeating: 0, count: wShape.reduce(1, *))
        ConvGeometry(xShape, wShape, padding: padding).forEachTap { yi, xi, wi in dw[wi] += dy[yi] * x[xi] }
        return dw
    }
}

/// The three convolution passes are one sum over the same taps, accumulated into a different operand:
/// the output (forward), the input's gradient or the filter's gradient (backward).
private struct ConvGeometry {
    let n, c, h, w, o, k, padding, oh, ow: Int

    init(_ xShape: [Int], _ wShape: [Int], padding: Int) {
        (n, c, h, w) = (xShape[0], xShape[1], xShape[2], xShape[3])
        (o, k) = (wShape[0], wShape[2])
        self.padding = padding
        (oh, ow) = (h + 2 * padding - k + 1, w + 2 * padding - k + 1)
    }

    var outputCount: Int { n * o * oh * ow }

    /// Calls `body(y, x, w)` with the flat indices of every output element, input pixel and filter weight
    /// that the convolution multiplies together; taps that fall on the zero padding are left out.
    func forEachTap(_ body: (Int, Int, Int) -> Void) {
        for s in 0..<n {
            for f in 0..<o {
                for i in 0..<oh {
                    for j in 0..<ow {
                        for ch in 0..<c {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let xi = i + ki - padding, xj = j + kj - padding
                                    if xi >= 0 && xi < h && xj >= 0 && xj < w {
                                        body(
                                            ((s * o + f) * oh + i) * ow + j, ((s * c + ch) * h + xi) * w + xj,
                                            ((f * c + ch) * k + ki) * k + kj)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
