import Engine
import XCTest
@testable import Metrics

final class SlicedWassersteinTests: XCTestCase {
    func testLevelsRunDownTo16() {
        XCTAssertEqual(SlicedWasserstein(resolution: 128, seed: 0).levels, [128, 64, 32, 16])
        XCTAssertEqual(SlicedWasserstein(resolution: 16, seed: 0).levels, [16])
    }

    func testDescriptorsAreSevenBySevenNeighbourhoodsOfEveryChannel() {
        // At 16x16 the only level is the image itself; each value encodes its channel and position.
        let side = 16
        let values = (0..<3 * side * side).map { Float($0) }
        let descriptors = SlicedWasserstein(resolution: side, seed: 5).descriptors(
            of: ImageBatch(count: 1, side: side, values: values))[0]
        XCTAssertEqual(descriptors.count, SlicedWasserstein.patchesPerImage * 147)
        var centres = Set<Int>()
        for patch in 0..<SlicedWasserstein.patchesPerImage {
            let descriptor = Array(descriptors[patch * 147..<(patch + 1) * 147])
            let corner = Int(descriptor[0]), cornerY = corner / side, cornerX = corner % side
            XCTAssert((0...side - 7).contains(cornerY) && (0...side - 7).contains(cornerX), "patch inside the image")
            centres.insert(corner)
            for channel in 0..<3 {
                for dy in 0..<7 {
                    for dx in 0..<7 {
                        XCTAssertEqual(
                            Int(descriptor[channel * 49 + dy * 7 + dx]),
                            channel * side * side + (cornerY + dy) * side + cornerX + dx)
                    }
                }
            }
        }
        XCTAssertGreaterThan(centres.count, 50, "positions are spread over the image")
    }

    func testNormalizationGivesZeroMeanUnitDeviationPerChannel() {
        let raw = SlicedWasserstein(resolution: 32, seed: 3).descriptors(of: uniformNoise(count: 4, side: 32, seed: 3))[
            1]
        // Channels scaled and shifted differently: normalization must undo each.
        var skewed = raw
        for index in skewed.indices { skewed[index] = skewed[index] * Float(1 + index % 147 / 49) + 40 }
        let normalized = normalizedDescriptors(skewed)
        let count = normalized.count / 147
        for channel in 0..<3 {
            var values: [Double] = []
            for descriptor in 0..<count {
                let start = descriptor * 147 + channel * 49
                values += normalized[start..<start + 49].map { Double($0) }
            }
            let mean = values.reduce(0, +) / Double(values.count)
            let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(deviation, 1, accuracy: 1e-4)
        }
    }

    /// The radix sort puts floats in the order `sort()` does: negatives, subnormals, zeros of both signs,
    /// infinities, and values that share long runs of digits (so every pass moves some of them).
    func testRadixSortOrdersFloatsAsSortDoes() {
        var random = PhiloxRandom(seed: 6)
        var values = (0..<5000).map { index -> Float in
            let uniform = Float(random.integer(below: 1 << 24)) / 0x1p24 - 0.5
            return index % 3 == 0 ? uniform * 1e-3 : uniform * 0x1p20
        }
        values += [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1, 1, -1]
        values += (0..<300).map { Float(bitPattern: 0x3F80_0000 | UInt32($0 % 7) << 11 | UInt32($0 % 5)) }
        var sorted = values
        sorted.withUnsafeMutableBufferPointer { radixSort($0) }
        XCTAssertEqual(sorted, values.sorted())
        XCTAssertEqual(
            sorted.firstIndex { $0.bitPattern == (0 as Float).bitPattern },
            sorted.firstIndex { $0 == 0 }.map { $0 + 1 }, "negative zero first")
    }

    /// The engine's threads share out the directions; the distances do not change by a bit.
    func testDistancesDoNotDependOnTheThreadCount() {
        let threadsBefore = ThreadPool.threads
        defer { ThreadPool.threads = threadsBefore }
        let swd = SlicedWasserstein(resolution: 32, seed: 5)
        let first = swd.descriptors(of: blobs(count: 12, seed: 7)),
            second = swd.descriptors(of: blobs(count: 12, seed: 8))
        let distances = [1, 3].map { threads -> [Double] in
            ThreadPool.threads = threads
            return swd.distances(first, second)
        }
        XCTAssertEqual(distances[0], distances[1])
        XCTAssertTrue(distances[0].allSatisfy { $0 > 0 })
    }

    func testASetIsAtDistanceZeroFromItself() {
        let swd = SlicedWasserstein(resolution: 32, seed: 9)
        let descriptors = swd.descriptors(of: blobs(count: 16, seed: 1))
        XCTAssertEqual(swd.distances(descriptors, descriptors), [0, 0])
    }

    func testImageOrderDoesNotMatter() {
        let swd = SlicedWasserstein(resolution: 32, seed: 9)
        let set = blobs(count: 24, seed: 2), other = blobs(count: 24, seed: 3)
        var random = PhiloxRandom(seed: 4)
        let shuffled = set.images(random.permutation(set.count))
        let reference = swd.distances(swd.descriptors(of: set), swd.descriptors(of: other))
        let permuted = swd.distances(swd.descriptors(of: shuffled), swd.descriptors(of: other))
        for (a, b) in zip(reference, permuted) { XCTAssertEqual(a, b, accuracy: 1e-6 * a) }
        // Built in two batches, the descriptors of a set are the same as built at once.
        let halves = [swd.descriptors(of: set.images(Array(0..<10))), swd.descriptors(of: set.images(Array(10..<24)))]
        let joined = zip(halves[0], halves[1]).map { $0 + $1 }
        XCTAssertEqual(joined, swd.descriptors(of: set))
    }

    func testSamplesOfOneDistributionAreCloseAndNoiseIsFar() {
        let swd = SlicedWasserstein(resolution: 32, seed: 11)
        let first = swd.descriptors(of: blobs(count: 64, seed: 21))
        let second = swd.descriptors(of: blobs(count: 64, seed: 22))
        let noise = swd.descriptors(of: uniformNoise(count: 64, side: 32, seed: 23))
        let same = swd.distances(first, second), different = swd.distances(first, noise)
        for level in 0..<2 {
            XCTAssertGreaterThan(same[level], 0)
            // With 64 images per set the coarse level's sampling noise is large (it shrinks as 1/sqrt(images)).
            XCTAssertLessThan(same[level] * 3, different[level], "level \(level): same \(same), different \(different)")
        }
    }
}
