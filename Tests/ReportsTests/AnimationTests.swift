import Foundation
import ImageFixtures
import ImageIO
@testable import Reports
import SafeIO
import TestSupport
import XCTest

final class AnimationTests: TemporaryDirectoryTestCase {
    /// Checks every chunk CRC, the frame count and sequence numbers, then rebuilds each frame as a
    /// still PNG from its IDAT or fdAT data and decodes it with libpng.
    func testAnimatedPNGHoldsEveryFrameExactly() throws {
        let frames = (0..<4).map { patternImage(width: 24, height: 12, seed: $0) }
        let path = directory.file("walk.png")
        let animation = try Animation(path: path, framesPerSecond: 8)
        for frame in frames { try animation.add(frame) }
        XCTAssertEqual(try animation.finish(), "4 frames of 24x12, animated PNG")

        let file = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(file.prefix(8)), pngSignature)
        var chunks: [(type: String, data: [UInt8])] = [], offset = 8
        while offset < file.count {
            let length = file[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let typeAndData = Array(file[offset + 4..<offset + 8 + length])
            let stored = file[offset + 8 + length..<offset + 12 + length].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            XCTAssertEqual(stored, CRC32.checksum(typeAndData), "CRC of chunk \(chunks.count)")
            chunks.append((String(decoding: typeAndData.prefix(4), as: UTF8.self), Array(typeAndData.dropFirst(4))))
            offset += 12 + length
        }
        XCTAssertEqual(chunks.map(\.type).first, "IHDR")
        XCTAssertEqual(chunks[1].type, "acTL")
        XCTAssertEqual(chunks[1].data, bigEndian(UInt32(4)) + bigEndian(UInt32(0)))
        XCTAssertEqual(chunks.last?.type, "IEND")
        // The default image is frame 0 to a viewer without APNG support.
        XCTAssertEqual(try RGBImage.read(path: path), frames[0])

        var sequence: UInt32 = 0, frameData: [[UInt8]] = []
        for chunk in chunks where ["fcTL", "fdAT"].contains(chunk.type) {
            XCTAssertEqual(Array(chunk.data.prefix(4)), bigEndian(sequence), "sequence number of \(chunk.type)")
            sequence += 1
            if chunk.type == "fcTL" {
                XCTAssertEqual(Array(chunk.data[4..<12]), bigEndian(UInt32(24)) + bigEndian(UInt32(12)))
                XCTAssertEqual(Array(chunk.data[20..<24]), bigEndian(UInt16(1)) + bigEndian(UInt16(8)), "delay 1/8 s")
                frameData.append([])
            } else {
                frameData[frameData.count - 1] += chunk.data.dropFirst(4)
            }
        }
        frameData[0] = chunks.filter { $0.type == "IDAT" }.flatMap(\.data)
        XCTAssertEqual(frameData.count, 4)
        for (index, data) in frameData.enumerated() {
            let still = pngSignature + pngChunk("IHDR", chunks[0].data) + pngChunk("IDAT", data) + pngChunk("IEND", [])
            let stillPath = directory.file("frame\(index).png")
            try Data(still).write(to: URL(fileURLWithPath: stillPath))
            XCTAssertEqual(try RGBImage.read(path: stillPath), frames[index], "frame \(index)")
        }
    }

    func testFramesOfAnotherSizeAndUnknownTypesAreNamedErrors() throws {
        let animation = try Animation(path: directory.file("a.png"), framesPerSecond: 4)
        try animation.add(patternImage(width: 8, height: 4, seed: 0))
        XCTAssertThrowsError(try animation.add(patternImage(width: 4, height: 4, seed: 1))) { error in
            XCTAssertEqual("\(error)", "\(directory.path)/a.png: frame of 4x4 after frames of 8x4")
        }
        XCTAssertThrowsError(try Animation(path: directory.file("a.avi"), framesPerSecond: 4)) { error in
            XCTAssert("\(error)".hasPrefix("\(directory.path)/a.avi: unknown animation type"), "\(error)")
        }
        XCTAssertThrowsError(try Animation(path: directory.file("b.png"), framesPerSecond: 4).finish()) { error in
            XCTAssertEqual("\(error)", "\(directory.path)/b.png: no frames to write")
        }
    }

    func testNearestNeighbourResizeRepeatsPixels() {
        let image = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        let large = resizedNearest(image, width: 4, height: 2)
        XCTAssertEqual(large.pixels, [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
    }

    func testVideoThroughFFmpegWhenInstalled() throws {
        guard Animation.ffmpegPath() != nil else { throw XCTSkip("ffmpeg is not on PATH") }
        let path = directory.file("walk.mp4")
        let animation = try Animation(path: path, framesPerSecond: 8)
        for seed in 0..<3 { try animation.add(patternImage(width: 30, height: 15, seed: seed)) }
        XCTAssertEqual(try animation.finish(), "3 frames of 30x15, H.264 video")
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(String(decoding: file[4..<8], as: UTF8.self), "ftyp", "an MP4 begins with its ftyp box")
        XCTAssertEqual(try directory.contents(), ["walk.mp4"])
    }
}
