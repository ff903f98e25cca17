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
