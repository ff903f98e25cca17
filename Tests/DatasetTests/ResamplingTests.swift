@testable import Dataset
import ImageIO
import XCTest

final class ResamplingTests: XCTestCase {
    func testHalvingUniformTwoByTwoBlocksGivesTheBlockColours() {
        let blockColours: [[UInt8]] = (0..<16).map { (block: Int) -> [UInt8] in
            [UInt8(block * 16), UInt8(255 - block * 3), UInt8(block * 7 + 1)]
        }
        var pixels: [UInt8] = []
        for y in 0..<8 {
            for x in 0..<8 {
                pixels += blockColours[(y / 2) * 4 + x / 2]
            }
        }
        let halved = RGBImage(width: 8, height: 8, pixels: pixels).areaResized(toSide: 4)
        XCTAssertEqual(halved, RGBImage(width: 4, height: 4, pixels: blockColours.flatMap { $0 }))
    }

    func testHalvingRoundsTheMeanHalfUp() {
        // Per channel the four pixels sum to 2 (mean 0.5), 3 (0.75) and 1 (0.25).
        let image = RGBImage(width: 2, height: 2, pixels: [0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1])
        XCTAssertEqual(image.areaResized(toSide: 1).pixels, [1, 1, 0])
    }

    func testAreaResizeOfAConstantImageStaysConstantAtANonIntegerRatio() {
        let colour: [UInt8] = [200, 17, 90]
        let image = RGBImage(
            width: 75, height: 75, pixels: Array([[UInt8]](repeating: colour, count: 75 * 75).joined()))
        let resized = image.areaResized(toSide: 64)
        XCTAssertEqual(resized.width, 64)
        XCTAssertEqual(resized.pixels, Array([[UInt8]](repeating: colour, count: 64 * 64).joined()))
    }

    func testAreaResizeOfAHorizontalGradientStaysMonotonic() {
        let image = RGBImage(
            width: 75, height: 75,
            pixels: (0..<75 * 75).flatMap { index -> [UInt8] in
                let x = index % 75
                return [UInt8(x * 3), UInt8(x * 3), UInt8(222 - x * 3)]
            })
        let resized = image.areaResized(toSide: 64)
        let firstRow = Array(resized.pixels[0..<64 * 3])
        for y in 1..<64 {
            XCTAssertEqual(
                Array(resized.pixels[y * 64 * 3..<(y + 1) * 64 * 3]), firstRow, "row \(y) differs from row 0")
        }
        let red = stride(from: 0, to: firstRow.count, by: 3).map { firstRow[$0] }
        let blue = stride(from: 2, to: firstRow.count, by: 3).map { firstRow[$0] }
        XCTAssert(zip(red, red.dropFirst()).allSatisfy { $0 < $1 }, "red is not increasing: \(red)")
        XCTAssert(zip(blue, blue.dropFirst()).allSatisfy { $0 > $1 }, "blue is not decreasing: \(blue)")
        // The first output pixel covers source 0 fully and 11/64 of source 1: (11 * 3) / 75 rounds to 0;
        // the last covers 11/64 of source 73 and all of 74: (11 * 219 + 64 * 222) / 75 = 221.56.
        XCTAssertEqual(red.first, 0)
        XCTAssertEqual(red.last, 222)
    }

    func testUpscalingByAWholeFactorReplicatesPixels() {
        let image = RGBImage(width: 2, height: 2, pixels: Array(1...12))
        let expectedRows: [[UInt8]] = [
            [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6], [7, 8, 9, 7, 8, 9, 10, 11, 12, 10, 11, 12],
        ]
        XCTAssertEqual(
            image.areaResized(toSide: 4).pixels,
            Array([expectedRows[0], expectedRows[0], expectedRows[1], expectedRows[1]].joined()))
    }

    func testCentreCropOfAWideImageTakesTheMiddleColumns() {
        let wide = coordinateImage(width: 10, height: 6).centreCropped()
        XCTAssertEqual(wide, coordinateImage(width: 6, height: 6, xOffset: 2))
    }

    func testCentreCropOfATallImageTakesTheMiddleRows() {
        let tall = coordinateImage(width: 6, height: 10).centreCropped()
        XCTAssertEqual(tall, coordinateImage(width: 6, height: 6, yOffset: 2))
    }

    func testDefaultResolutionIsTheLargestPowerOfTwoNotAboveTheMedianSide() {
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [64, 75, 64]), 64)
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [75, 128, 130]), 128)
        // An even count's median lies half-way between the middle two sides: 65, then 48.
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [60, 70]), 64)
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [32, 64]), 32)
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [2, 3]), 4)
        XCTAssertEqual(PreparedDataset.defaultResolution(sides: [5000]), 1024)
    }

    /// Red holds the x and green the y coordinate (plus offsets), so a crop's origin is visible.
    private func coordinateImage(width: Int, height: Int, xOffset: Int = 0, yOffset: Int = 0) -> RGBImage {
        RGBImage(
            width: width, height: height,
            pixels: (0..<width * height).flatMap { index in
                [UInt8(index % width + xOffset), UInt8(index / width + yOffset), 9]
            })
    }
}
