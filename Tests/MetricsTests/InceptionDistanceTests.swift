import Engine
import XCTest

@testable import Metrics

/// FID's matrix square root and KID's kernel sums against closed forms and direct loops.
final class InceptionDistanceTests: XCTestCase {
    /// Covariances Q diag(a) Qᵀ and Q diag(b) Qᵀ commute, so tr (Σ₁Σ₂)^½ = Σ √(aᵢbᵢ) and FID has a
    /// closed form; the eigensolver sees non-diagonal matrices through the random rotation Q.
    func testFrechetDistanceMatchesClosedFormForCommutingCovariances() throws {
        let n = 24
        var random = PhiloxRandom(seed: 3)
        let q = orthonormal(n, &random)
        let a = (0..<n).map { _ in Double(random.uniform()) * 2 + 0.1 }
        let b = (0..<n).map { _ in Double(random.uniform()) * 3 }
        let meanA = (0..<n).map { _ in Double(random.uniform()) }, meanB = (0..<n).map { _ in Double(random.uniform()) }
        let first = FeatureStatistics(count: 10, mean: meanA, covariance: rotated(q, a, n))
        let second = FeatureStatistics(count: 10, mean: meanB, covariance: rotated(q, b, n))
        var expected = zip(meanA, meanB).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        for i in 0..<n { expected += a[i] + b[i] - 2 * (a[i] * b[i]).squareRoot() }
        XCTAssertEqual(try frechetDistance(first, second), expected, accuracy: 1e-9 * expected)
        XCTAssertEqual(try frechetDistance(first, first), 0, accuracy: 1e-9)
    }

    func testStatisticsAreNumpyMeanAndCov() {
        let features: [Float] = [1, 2, 3, 5, 2, 0, 4, 4, 1]
        let statistics = FeatureStatistics(features: features, dimension: 3)
        for (value, target) in zip(statistics.mean, [10.0 / 3, 8.0 / 3, 4.0 / 3]) {
            XCTAssertEqual(value, target, accuracy: 1e-12)
        }
        // cov of columns (1, 5, 4), (2, 2, 4), (3, 0, 1) with n - 1 = 2, as numpy.cov gives it.
        let expected: [Double] = [26, 4, -19, 4, 8, -2, -19, -2, 14].map { $0 / 6 }
        for (value, target) in zip(statistics.covariance, expected) { XCTAssertEqual(value, target, accuracy: 1e-12) }
    }

    /// With subsets as large as the sets, every subset is the whole set in some order, so KID is the
    /// unbiased MMD² of the whole sets, summed here pair by pair.
    func testKernelDistanceOfWholeSetsIsUnbiasedMMD() {
        let (m, d) = (7, 5)
        var random = PhiloxRandom(seed: 9)
        let x = (0..<(m * d)).map { _ in random.uniform() * 2 - 1 }, y = (0..<(m * d)).map { _ in random.uniform() }
        func k(_ p: [Float], _ i: Int, _ q: [Float], _ j: Int) -> Double {
            let dot = (0..<d).reduce(0.0) { $0 + Double(p[i * d + $1]) * Double(q[j * d + $1]) }
            return (dot / Double(d) + 1) * (dot / Double(d) + 1) * (dot / Double(d) + 1)
        }
        var within = 0.0, across = 0.0
        for i in 0..<m {
            for j in 0..<m {
                if i != j { within += k(x, i, x, j) + k(y, i, y, j) }
                across += k(x, i, y, j)
            }
        }
        let expected = (within / Double(m - 1) - across * 2 / Double(m)) / Double(m)
        let measured = kernelInceptionDistance(real: y, generated: x, dimension: d, subsets: 3, seed: 1)
        XCTAssertEqual(measured, expected, accuracy: 1e-5 * abs(expected))
        XCTAssertGreaterThan(measured, 0)
    }

    private func orthonormal(_ n: Int, _ random: inout PhiloxRandom) -> [Double] {
        var rows: [[Double]] = []
        while rows.count < n {
            var v = (0..<n).map { _ in Double(random.uniform()) - 0.5 }
            for row in rows {
                let dot = zip(v, row).reduce(0) { $0 + $1.0 * $1.1 }
                v = zip(v, row).map { $0 - dot * $1 }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows.append(v.map { $0 / norm })
        }
        return rows.flatMap { $0 }
    }

    /// Qᵀ diag(values) Q for row-major Q.
    private func rotated(_ q: [Double], _ values: [Double], _ n: Int) -> [Double] {
        var result = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                result[i * n + j] = (0..<n).reduce(0) { $0 + q[$1 * n + i] * values[$1] * q[$1 * n + j] }
            }
        }
        return result
    }
}
