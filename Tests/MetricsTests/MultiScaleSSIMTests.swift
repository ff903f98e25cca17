import Engine
import XCTest
@testable import Metrics

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
        let noisy = ImageBatch(
            count: 1, side: 32,
            values: zip(a.values, uniformNoise(count: 1, side: 32, seed: 8).values).map {
                min(max($0 + ($1 - 127.5) * 0.1, 0), 255)
            })
        XCTAssertGreaterThan(
            multiScaleSSIM(a, noisy), score, "a slightly noisy copy is more similar than another image")
        XCTAssertLessThan(multiScaleSSIM(a, uniformNoise(count: 1, side: 32, seed: 9)), 0.2)
    }
}
