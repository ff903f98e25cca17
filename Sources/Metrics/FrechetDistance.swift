import CBLAS
import Engine

/// Mean and covariance of a set of feature vectors, in Double: what FID compares, and what is cached
/// for the real set.
public struct FeatureStatistics: Equatable {
    public let count: Int
    public let mean: [Double]
    /// Row-major dimension x dimension, normalized by count - 1 (numpy's `cov`).
    public let covariance: [Double]

    public var dimension: Int { mean.count }

    public init(count: Int, mean: [Double], covariance: [Double]) {
        precondition(covariance.count == mean.count * mean.count, "covariance of \(mean.count) features")
        (self.count, self.mean, self.covariance) = (count, mean, covariance)
    }

    /// Statistics of `features`, row-major [count, dimension], count >= 2. The centred Gram matrix is summed
    /// in blocks of rows, so no Double copy of a large set is made.
    public init(features: [Float], dimension: Int) {
        let count = features.count / dimension
        precondition(count >= 2 && count * dimension == features.count, "statistics of \(count) feature vectors")
        var mean = [Double](repeating: 0, count: dimension)
        for row in 0..<count { for j in 0..<dimension { mean[j] += Double(features[row * dimension + j]) } }
        for j in 0..<dimension { mean[j] /= Double(count) }
        var covariance = [Double](repeating: 0, count: dimension * dimension)
        let block = 256
        var centred = [Double](repeating: 0, count: block * dimension)
        for first in stride(from: 0, to: count, by: block) {
            let rows = min(block, count - first)
            for row in 0..<rows {
                for j in 0..<dimension {
                    centred[row * dimension + j] = Double(features[(first + row) * dimension + j]) - mean[j]
                }
            }
            cblas_dgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, blasint(dimension), blasint(dimension), blasint(rows), 1,
                centred, blasint(dimension), centred, blasint(dimension), 1, &covariance, blasint(dimension))
        }
        for index in covariance.indices { covariance[index] /= Double(count - 1) }
        self.init(count: count, mean: mean, covariance: covariance)
    }
}

public enum FrechetDistanceError: Error, Equatable {
    /// LAPACK's eigensolver did not converge (INFO > 0), which finite covariances should never cause.
    case eigensolverFailed(info: Int32)
}

/// The Fréchet distance between Gaussians fitted to two feature sets, FID when the features are
/// Inception's: |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½). tr (Σ₁ Σ₂)^½ is computed as the
/// sum of the square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½, which has the same eigenvalues
/// as Σ₁ Σ₂ and is symmetric, so LAPACK's symmetric eigensolver serves; eigenvalues that rounding leaves slightly
/// negative count as 0, as the real part of scipy's `sqrtm` does.
public func frechetDistance(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
    precondition(a.dimension == b.dimension, "FID of \(a.dimension)- and \(b.dimension)-d features")
    let n = a.dimension
    var distance = zip(a.mean, b.mean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    for i in 0..<n { distance += a.covariance[i * n + i] + b.covariance[i * n + i] }
    // With Σ₁ = V diag(λ) Vᵀ, Σ₁^½ Σ₂ Σ₁^½ is similar to diag(√λ) Vᵀ Σ₂ V diag(√λ),
    // which needs two products instead of three. LAPACK's V is column-major, so `vectors` read row-major is Vᵀ.
    let (vectors, values) = try symmetricEigen(a.covariance, n, vectors: true)
    var projected = [Double](repeating: 0, count: n * n), sandwich = projected
    multiply(vectors, transposeB: false, b.covariance, into: &projected, n)
    multiply(projected, transposeB: true, vectors, into: &sandwich, n)
    let roots = values.map { max($0, 0).squareRoot() }
    for row in 0..<n { for column in 0..<n { sandwich[row * n + column] *= roots[row] * roots[column] } }
    let traceOfRoot = try symmetricEigen(sandwich, n, vectors: false).values.reduce(0) { $0 + max($1, 0).squareRoot() }
    return distance - 2 * traceOfRoot
}

private func multiply(_ a: [Double], transposeB: Bool, _ b: [Double], into c: inout [Double], _ n: Int) {
    cblas_dgemm(
        CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, blasint(n), blasint(n), blasint(n), 1,
        a, blasint(n), b, blasint(n), 0, &c, blasint(n))
}

/// Eigenvalues (ascending) and, when asked, eigenvectors (row i of the result = eigenvector i) of a
/// symmetric n x n matrix, by LAPACK's dsyevd.
private func symmetricEigen(
    _ matrix: [Double], _ n: Int, vectors: Bool
) throws -> (
    vectors: [Double], values: [Double]
) {
    var a = matrix, values = [Double](repeating: 0, count: n)
    var size = Int32(n), info: Int32 = 0, workSize: Int32 = -1, integerWorkSize: Int32 = -1
    var workQuery = 0.0, integerWorkQuery: Int32 = 0
    let job: CChar = vectors ? 86 : 78, upper: CChar = 85  // "V" / "N", "U"
    var jobFlag = job, upperFlag = upper
    dsyevd_(
        &jobFlag, &upperFlag, &size, &a, &size, &values, &workQuery, &workSize, &integerWorkQuery,
        &integerWorkSize, &info, 1, 1)
    guard info == 0 else { throw FrechetDistanceError.eigensolverFailed(info: info) }
    workSize = Int32(workQuery)
    integerWorkSize = integerWorkQuery
    var work = [Double](repeating: 0, count: Int(workSize)),
        integerWork = [Int32](repeating: 0, count: Int(integerWorkSize))
    dsyevd_(
        &jobFlag, &upperFlag, &size, &a, &size, &values, &work, &workSize, &integerWork, &integerWorkSize, &info, 1, 1)
    guard info == 0 else { throw FrechetDistanceError.eigensolverFailed(info: info) }
    return (a, values)
}

/// KID as StyleGAN2-ADA computes it: the unbiased MMD² of the cubic polynomial kernel k(x, y) = (x·y / d + 1)³,
/// averaged over `subsets` random subsets of min(counts, `maxSubsetSize`) vectors of each set, drawn
/// without replacement from seeded Philox streams (subset s from substream s). Features row-major [count, d].
public func kernelInceptionDistance(
    real: [Float], generated: [Float], dimension d: Int, subsets: Int = 100, maxSubsetSize: Int = 1000,
    seed: UInt64 = 0
) -> Double {
    let realCount = real.count / d, generatedCount = generated.count / d
    let m = min(realCount, generatedCount, maxSubsetSize)
    precondition(m >= 2 && subsets >= 1, "KID needs at least two vectors per set")
    var total = 0.0
    for subset in 0..<subsets {
        var random = PhiloxRandom(seed: seed).substream(UInt64(subset))
        let x = rows(generated, random.permutation(generatedCount).prefix(m), d)
        let y = rows(real, random.permutation(realCount).prefix(m), d)
        let within = kernelSum(x, x, m, d, skipDiagonal: true) + kernelSum(y, y, m, d, skipDiagonal: true)
        total += within / Double(m - 1) - kernelSum(x, y, m, d, skipDiagonal: false) * 2 / Double(m)
    }
    return total / Double(subsets) / Double(m)
}

private func rows(_ features: [Float], _ indices: ArraySlice<Int>, _ d: Int) -> Tensor {
    var values: [Float] = []
    values.reserveCapacity(indices.count * d)
    for index in indices { values += features[(index * d)..<((index + 1) * d)] }
    return Tensor(shape: [indices.count, d], values: values)
}

/// Σ (xᵢ·yⱼ / d + 1)³ over all pairs (i ≠ j when `skipDiagonal`), the products by the engine's threaded
/// GEMM in float32 as StyleGAN2-ADA's numpy does, the sum in Double.
private func kernelSum(_ x: Tensor, _ y: Tensor, _ m: Int, _ d: Int, skipDiagonal: Bool) -> Double {
    let products = matmul(x, y, transposeB: true)
    var sum = 0.0
    for i in 0..<m {
        for j in 0..<m where !(skipDiagonal && i == j) {
            let value = Double(products[i * m + j]) / Double(d) + 1
            sum += value * value * value
        }
    }
    return sum
}
