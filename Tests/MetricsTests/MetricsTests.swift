import Engine
import XCTest
@testable import Metrics

final class PyramidTests: XCTestCase {
    func testReconstructionRecoversTheImages() {
        let images = uniformNoise(count: 3, side: 32, seed: 1)
        for levels in 1...3 {
            let rebuilt = reconstructed(fromLaplacian: laplacianPyramid(images, levels: levels))
            XCTAssertEqual(rebuilt.side, 32)
            let worst = zip(rebuilt.values, images.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-3, "\(levels) levels")
        }
    }

    func testTheLastLevelIsTheBlurredImageAndTheOthersAreDetail() {
        let pyramid = laplacianPyramid(uniformNoise(count: 1, side: 32, seed: 2), levels: 3)
        XCTAssertEqual(pyramid.map(\.side), [32, 16, 8])
        let mean = pyramid[2].values.reduce(0, +) / Float(pyramid[2].values.count)
        XCTAssertEqual(mean, 127.5, accuracy: 15, "the low-pass level keeps the brightness")
        let detailMean = pyramid[0].values.reduce(0, +) / Float(pyramid[0].values.count)
        XCTAssertEqual(detailMean, 0, accuracy: 5, "a detail level is centred on zero")
    }

    func testBinomialTapsAndMirroredBorders() {
        // An impulse shows the filter: output (y, x) reads input rows and columns 2y-2...2y+2.
        var values = [Float](repeating: 0, count: 3 * 16 * 16)
        values[8 * 16 + 8] = 256
        values[1 * 16 + 0] = 256
        let down = pyramidDown(ImageBatch(count: 1, side: 16, values: values))
        XCTAssertEqual(down.values[4 * 8 + 4], 36, accuracy: 1e-4, "centre tap 6/16 x 6/16")
        XCTAssertEqual(down.values[3 * 8 + 4], 6, accuracy: 1e-4, "outer tap 1/16 x 6/16")
        XCTAssertEqual(down.values[4 * 8 + 3], 6, accuracy: 1e-4)
        // Row -1 mirrors to row 1 (not 0), so the impulse at (1, 0) is read twice by output (0, 0).
        XCTAssertEqual(down.values[0], 256 * (4.0 + 4.0) / 16 * 6 / 16, accuracy: 1e-4)
        XCTAssertEqual(down.values[16 * 3 * 0 + 8 * 8], 0, "other planes untouched")
    }

    func testConstantImagesStayConstantUpAndDown() {
        let flat = ImageBatch(count: 2, side: 16, values: [Float](repeating: 77, count: 2 * 3 * 16 * 16))
        for value in pyramidDown(flat).values + pyramidUp(flat).values { XCTAssertEqual(value, 77, accuracy: 1e-4) }
    }
}

final class SlicedWassersteinTests: XCTestCase {
    func testLevelsRunDownTo16() {
        XCTAssertEqual(SlicedWasserstein(resolution: 128, seed: 0).levels, [128, 64, 32, 16])
        XCTAssertEqual(SlicedWasserstein(resolution: 16, seed: 0).levels, [16])
    }

    func testDescriptorsAreSevenBySevenNeighbourhoodsOfEveryChannel() {
        // At 16x16 the only level is the image itself; each value encodes its channel and position.
        let side = 16
        let values = (0..<3 * side * side).map { Float($0) }
        let descriptors = SlicedWasserstein(resolution: side, seed: 5).descriptors(of: ImageBatch(count: 1, side: side, values: values))[0]
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
                        XCTAssertEqual(Int(descriptor[channel * 49 + dy * 7 + dx]), channel * side * side + (cornerY + dy) * side + cornerX + dx)
                    }
                }
            }
        }
        XCTAssertGreaterThan(centres.count, 50, "positions are spread over the image")
    }

    func testNormalizationGivesZeroMeanUnitDeviationPerChannel() {
        let raw = SlicedWasserstein(resolution: 32, seed: 3).descriptors(of: uniformNoise(count: 4, side: 32, seed: 3))[1]
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

final class MultiScaleSSIMTests: XCTestCase {
    func testIdenticalImagesScoreOne() {
        let image = blobs(count: 1, seed: 5)
        XCTAssertEqual(multiScaleSSIM(image, image), 1, accuracy: 1e-9)
        let small = uniformNoise(count: 1, side: 16, seed: 6)
        XCTAssertEqual(multiScaleSSIM(small, small), 1, accuracy: 1e-9)
    }

    func testSymmetricAndLowerForDifferentImages() {
        let images = blobs(count: 2, seed: 7)
        let a = images.image(0), b = images.image(1)
        let score = multiScaleSSIM(a, b)
        XCTAssertEqual(score, multiScaleSSIM(b, a), accuracy: 1e-12)
        XCTAssertLessThan(score, 0.95)
        let noisy = ImageBatch(count: 1, side: 32, values: zip(a.values, uniformNoise(count: 1, side: 32, seed: 8).values).map { min(max($0 + ($1 - 127.5) * 0.1, 0), 255) })
        XCTAssertGreaterThan(multiScaleSSIM(a, noisy), score, "a slightly noisy copy is more similar than another image")
        XCTAssertLessThan(multiScaleSSIM(a, uniformNoise(count: 1, side: 32, seed: 9)), 0.2)
    }
}

/// Images whose values are independent uniform bytes.
func uniformNoise(count: Int, side: Int, seed: UInt64) -> ImageBatch {
    var random = PhiloxRandom(seed: seed)
    return ImageBatch(count: count, side: side, values: (0..<count * 3 * side * side).map { _ in (random.uniform() * 255).rounded() })
}

/// A smooth random distribution: a reddish disc of random place (and nearly fixed size) on a bluish gradient.
func blobs(count: Int, seed: UInt64) -> ImageBatch {
    let side = 32
    var random = PhiloxRandom(seed: seed)
    var values = [Float](repeating: 0, count: count * 3 * side * side)
    for image in 0..<count {
        let centre = (random.uniform() * Float(side), random.uniform() * Float(side)), radius = 7 + random.uniform() * 2
        let disc = [200, 60, 40].map { $0 + random.uniform() * 40 }
        let background = [20, 80, 160].map { ($0 + random.uniform() * 30, random.uniform() * 2) }
        for channel in 0..<3 {
            for y in 0..<side {
                for x in 0..<side {
                    let dx = Float(x) - centre.0, dy = Float(y) - centre.1
                    let inside = dx * dx + dy * dy < radius * radius
                    let value = inside ? disc[channel] : background[channel].0 + background[channel].1 * Float(y)
                    values[((image * 3 + channel) * side + y) * side + x] = min(max(value.rounded(), 0), 255)
                }
            }
        }
    }
    return ImageBatch(count: count, side: side, values: values)
}
