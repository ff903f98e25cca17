import Foundation
import ImageIO
@testable import Reports
import SafeIO
import Training
import XCTest

/// A small run directory written by hand: ticks at 4x4 and a fade-in to 8x8, SWD on some ticks.
final class RunFixture {
    let path = NSTemporaryDirectory() + "reports-tests-" + UUID().uuidString

    init(swd: Bool = true, extraLines: [String] = []) throws {
        try createDirectory(path + "/samples")
        try Data(#"{"loss": {"kind": "wgan-gp"}, "total_kimg": 0.4}"#.utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        var lines: [String] = []
        for tick in 1...4 {
            let swdKeys = swd && tick % 2 == 0
                ? ["swd_8": Double(tick) * 10, "swd_4": 7.5, "swd_mean": 8.25, "ms_ssim": 0.125] : [:]
            lines.append(try Self.record(tick: tick, quality: swdKeys).jsonLine())
            try gridImage(seed: tick).write(path: path + "/samples/tick-00000\(tick).png")
        }
        try Data((lines + extraLines).map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path + "/metrics.jsonl"))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Tick `tick` of the fixture: 4x4 for two ticks, then a fade-in to 8x8 and 8x8 stable.
    static func record(tick: Int, quality: [String: Double] = [:]) -> TickRecord {
        TickRecord(tick: tick, step: tick * 12, kimg: Double(tick) / 10, resolution: tick <= 2 ? 4 : 8,
                   phase: tick == 3 ? .fadeIn : .stabilize, alpha: tick == 3 ? 0.5 : 1, minibatch: 8, learningRate: 0.002,
                   losses: ["d_loss": 1.0 / Double(tick), "gp": 0.25, "g_loss": -0.5], quality: quality,
                   skippedUpdates: 0, imagesPerSecond: 100, tickSeconds: 1, peakResidentMiB: 300,
                   grid: "samples/tick-00000\(tick).png")
    }
}

func gridImage(seed: Int, width: Int = 8, height: Int = 4) -> RGBImage {
    RGBImage(width: width, height: height, pixels: (0..<width * height * 3).map { UInt8(truncatingIfNeeded: $0 * 37 + seed * 101) })
}

final class RunReportTests: XCTestCase {
    func testReportHasEveryPlotAndEveryGridInline() throws {
        let fixture = try RunFixture()
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        // Plots: D/G loss, loss terms, SWD, MS-SSIM, alpha, speed; plus the phase strip.
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7)
        XCTAssertEqual(html.components(separatedBy: ">ms_ssim<").count - 1, 1, "MS-SSIM has a plot of its own, not among the loss terms")
        XCTAssert(html.contains(">swd_4<") && html.contains(">swd_8<") && html.contains(">swd_mean<"))
        XCTAssertFalse(html.contains("no SWD computed"))
        XCTAssertEqual(html.components(separatedBy: "stroke-dasharray=\"5 3\"").count - 1, 1, "swd_mean dashed, as it can hide a level")
        XCTAssert(html.contains(">8x8</text>"), "resolution change marker")
        // The last grids at 4x4 and at 8x8, then the final grid again, large.
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 3)
        XCTAssert(html.contains("4x4, stable, 0.20 kimg") && html.contains("8x8, stable, 0.40 kimg"))
        for external in ["src=\"http", "<link", "<script", "url("] { XCTAssertFalse(html.contains(external), external) }
    }

    func testReportWithoutSWDSaysSo() throws {
        let fixture = try RunFixture(swd: false)
        let html = try RunReport(run: RunRecords(path: fixture.path)).html()
        XCTAssert(html.contains("no SWD computed"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 5)
    }

    func testBadRunDirectoriesAreNamedErrors() throws {
        let fixture = try RunFixture(extraLines: ["{\"tick\": 5, \"kimg\": 0.5"])
        XCTAssertThrowsError(try RunRecords(path: fixture.path)) { error in
            XCTAssertEqual("\(error)", "\(fixture.path)/metrics.jsonl:5: not a JSON object")
        }
        XCTAssertThrowsError(try RunRecords(path: fixture.path + "/samples")) { error in
            XCTAssertEqual("\(error)", "\(fixture.path)/samples: not a run directory (it needs config.json and metrics.jsonl)")
        }
        XCTAssertThrowsError(try RunRecords(path: fixture.path + "/nothing")) { error in
            XCTAssertEqual("\(error)", "\(fixture.path)/nothing: no such directory")
        }
        let withoutGrid = try RunFixture.record(tick: 5).jsonLine()
            .replacingOccurrences(of: #","grid":"samples\/tick-000005.png""#, with: "")
        let noGrid = try RunFixture(extraLines: [withoutGrid])
        XCTAssertThrowsError(try RunRecords(path: noGrid.path)) { error in
            XCTAssertEqual("\(error)", "\(noGrid.path)/metrics.jsonl:5: no 'grid'")
        }
    }

    func testPhasesRunFromTheFirstTickShowingThemToTheNextPhase() throws {
        let fixture = try RunFixture()
        let segments = try RunReport(run: RunRecords(path: fixture.path)).segments
        XCTAssertEqual(segments.map(\.resolution), [4, 8, 8])
        XCTAssertEqual(segments.map(\.fadeIn), [false, true, false])
        XCTAssertEqual(segments.map(\.kimg.lowerBound), [0, 0.3, 0.4])
        XCTAssertEqual(segments.map(\.kimg.upperBound), [0.3, 0.4, 0.4])
    }

    func testAxisTicksAreRoundAndInside() {
        XCTAssertEqual(LinePlot.ticks(0...1.2).map { ($0 * 10).rounded() }, [0, 2, 4, 6, 8, 10, 12])
        XCTAssertEqual(LinePlot.ticks(-3...7), [-2, 0, 2, 4, 6])
    }
}

final class AnimationTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "animation-tests-" + UUID().uuidString
        try createDirectory(directory)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Checks every chunk CRC, the frame count and sequence numbers, then rebuilds each frame as a
    /// still PNG from its IDAT or fdAT data and decodes it with libpng.
    func testAnimatedPNGHoldsEveryFrameExactly() throws {
        let frames = (0..<4).map { gridImage(seed: $0, width: 24, height: 12) }
        let path = directory + "/walk.png"
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
            let stillPath = directory + "/frame\(index).png"
            try Data(still).write(to: URL(fileURLWithPath: stillPath))
            XCTAssertEqual(try RGBImage.read(path: stillPath), frames[index], "frame \(index)")
        }
    }

    func testFramesOfAnotherSizeAndUnknownTypesAreNamedErrors() throws {
        let animation = try Animation(path: directory + "/a.png", framesPerSecond: 4)
        try animation.add(gridImage(seed: 0))
        XCTAssertThrowsError(try animation.add(gridImage(seed: 1, width: 4))) { error in
            XCTAssertEqual("\(error)", "\(directory)/a.png: frame of 4x4 after frames of 8x4")
        }
        XCTAssertThrowsError(try Animation(path: directory + "/a.avi", framesPerSecond: 4)) { error in
            XCTAssert("\(error)".hasPrefix("\(directory)/a.avi: unknown animation type"), "\(error)")
        }
        XCTAssertThrowsError(try Animation(path: directory + "/b.png", framesPerSecond: 4).finish()) { error in
            XCTAssertEqual("\(error)", "\(directory)/b.png: no frames to write")
        }
    }

    func testNearestNeighbourResizeRepeatsPixels() {
        let image = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        let large = resizedNearest(image, width: 4, height: 2)
        XCTAssertEqual(large.pixels, [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
    }

    func testVideoThroughFFmpegWhenInstalled() throws {
        guard Animation.ffmpegPath() != nil else { throw XCTSkip("ffmpeg is not on PATH") }
        let path = directory + "/walk.mp4"
        let animation = try Animation(path: path, framesPerSecond: 8)
        for seed in 0..<3 { try animation.add(gridImage(seed: seed, width: 30, height: 15)) }
        XCTAssertEqual(try animation.finish(), "3 frames of 30x15, H.264 video")
        let file = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(String(decoding: file[4..<8], as: UTF8.self), "ftyp", "an MP4 begins with its ftyp box")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["walk.mp4"])
    }
}
