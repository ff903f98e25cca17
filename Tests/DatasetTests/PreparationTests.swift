@testable import Dataset
import ImageFixtures
import ImageIO
import TestSupport
import XCTest

final class PreparationTests: TemporaryDirectoryTestCase {
    private let good = patternImage(width: 64, height: 64, seed: 1)
    private let large = patternImage(width: 75, height: 75, seed: 2)
    private let wide = patternImage(width: 80, height: 64, seed: 3)

    /// Three usable images (one with an upper-case extension), three broken PNGs and a text file.
    private func makeMixedFolder() throws -> String {
        let folder = try directory.folder("images")
        try good.write(path: folder + "/good.png")
        try large.write(path: folder + "/large.png")
        try wide.write(path: folder + "/wide.PNG")
        let png = try directory.read("images/good.png")
        try directory.write(Array(png.prefix(png.count / 2)), to: "images/truncated.png")
        try directory.write(Array("definitely not an image".utf8), to: "images/corrupt.png")
        try directory.write([], to: "images/empty.png")
        try directory.write(Array("notes".utf8), to: "images/notes.txt")
        return folder
    }

    func testPrepareUsesReadableImagesAndReportsTheRest() throws {
        let folder = try makeMixedFolder()
        let output = directory.file("mixed.pgds")
        let report = try XCTUnwrap(PreparedDataset.prepare(folder: folder, output: output))

        XCTAssertEqual(report.filesFound, 6)
        XCTAssertEqual(report.imagesUsed, 3)
        XCTAssertEqual(report.resolution, 64)
        XCTAssertEqual(report.levels, [4, 8, 16, 32, 64])
        XCTAssertEqual(report.skipped.map(\.file), ["corrupt.png", "empty.png", "truncated.png"])
        XCTAssertEqual(report.skipped[1].error, .emptyFile(path: folder + "/empty.png"))
        guard case .unknownFormat = report.skipped[0].error, case .corrupt = report.skipped[2].error else {
            return XCTFail("unexpected reasons: \(report.skipped.map(\.error))")
        }
        XCTAssertEqual(
            report.sizes,
            [
                SizeCount(width: 64, height: 64, count: 1), SizeCount(width: 75, height: 75, count: 1),
                SizeCount(width: 80, height: 64, count: 1),
            ])
        let fileSize = try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int
        XCTAssertEqual(report.fileSize, fileSize)
        // Regions on page boundaries: sources, 4x4, 8x8, 16x16 at 16384, 32x32 (9216 bytes) at 20480, 64x64 at 32768.
        XCTAssertEqual(report.fileSize, 32768 + 3 * 3 * 64 * 64)
    }

    func testPreparedImagesAreCroppedResizedAndStoredInFileNameOrder() throws {
        let output = directory.file("mixed.pgds")
        try PreparedDataset.prepare(folder: try makeMixedFolder(), output: output)
        let dataset = try PreparedDataset(path: output)

        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.levels, [4, 8, 16, 32, 64])
        XCTAssertEqual(try dataset.image(0, resolution: 64), good)
        XCTAssertEqual(try dataset.image(1, resolution: 64), large.areaResized(toSide: 64))
        XCTAssertEqual(try dataset.image(2, resolution: 64), wide.centreCropped())
    }

    func testEachLevelIsTheTwoByTwoBoxAverageOfTheNextLarger() throws {
        let output = directory.file("mixed.pgds")
        try PreparedDataset.prepare(folder: try makeMixedFolder(), output: output)
        let dataset = try PreparedDataset(path: output)

        for index in 0..<dataset.count {
            for side in dataset.levels.dropLast() {
                XCTAssertEqual(
                    try dataset.image(index, resolution: side),
                    boxAverage(try dataset.image(index, resolution: side * 2), factor: 2),
                    "image \(index) at \(side)x\(side)")
            }
        }
    }

    func testAnExplicitResolutionLimitsTheLevels() throws {
        let output = directory.file("small.pgds")
        let report = try XCTUnwrap(
            PreparedDataset.prepare(folder: try makeMixedFolder(), resolution: 16, output: output))
        let dataset = try PreparedDataset(path: output)

        XCTAssertEqual(report.levels, [4, 8, 16])
        XCTAssertEqual(dataset.resolution, 16)
        // One 4x4 average from the source, not two rounded halvings.
        XCTAssertEqual(try dataset.image(0, resolution: 16), boxAverage(good, factor: 4))
    }

    func testResolutionsOtherThanPowersOfTwoFrom4To1024AreRejected() throws {
        let folder = try makeMixedFolder()
        for resolution in [48, 2, 2048] {
            let error = try prepareError(folder: folder, resolution: resolution)
            XCTAssertEqual(error as? DatasetError, .invalidResolution(resolution))
            XCTAssert("\(error)".contains("resolution \(resolution) "), "\(error)")
        }
    }

    /// Two ranks (threads here, exchanging through memory as MPI would) split the scan and the conversion,
    /// including the truncated PNG whose header reads but whose pixels do not, and write the same bytes as
    /// one process; the other rank gets no report.
    func testTwoRanksWriteTheSameBytesAsOne() throws {
        let folder = try makeMixedFolder()
        let alone = try XCTUnwrap(PreparedDataset.prepare(folder: folder, output: directory.file("alone.pgds")))
        let exchange = RoundExchange(ranks: 2)
        let output = directory.file("ranks.pgds")
        // Rounds of one image per rank, so that several rounds run and images move when the truncated one leaves.
        let otherRank = Thread {
            exchange.result(of: 1) {
                try PreparedDataset.prepare(folder: folder, output: output, group: exchange.group(rank: 1, perRank: 1))
            }
        }
        otherRank.start()
        let report = try XCTUnwrap(
            PreparedDataset.prepare(folder: folder, output: output, group: exchange.group(rank: 0, perRank: 1)))
        XCTAssertEqual(exchange.waitForOtherRanks(), [])
        XCTAssertEqual(try directory.read("ranks.pgds"), try directory.read("alone.pgds"))
        XCTAssertEqual(report.skipped, alone.skipped)
        XCTAssertEqual(report.skipped.map(\.file), ["corrupt.png", "empty.png", "truncated.png"])
        XCTAssertEqual(report.identity, alone.identity)
    }

    func testAFolderWithoutImageFilesIsAnError() throws {
        let folder = try directory.folder("empty")
        XCTAssertEqual(try prepareError(folder: folder) as? DatasetError, .noImageFiles(folder: folder))

        try directory.write(Array("notes".utf8), to: "empty/notes.txt")
        let error = try prepareError(folder: folder)
        XCTAssertEqual(error as? DatasetError, .noImageFiles(folder: folder))
        XCTAssertEqual("\(error)", "\(folder): no PNG or JPEG files found (in it or its subfolders)")
    }

    func testAFolderOfUnreadablePNGsIsAnError() throws {
        let folder = try directory.folder("broken")
        try directory.write([], to: "broken/a.png")
        try directory.write([1, 2, 3], to: "broken/b.png")
        let error = try prepareError(folder: folder)
        XCTAssertEqual("\(error)", "\(folder): no usable images (2 files, 2 skipped)")
    }

    func testAMissingFolderIsAnError() throws {
        let folder = directory.file("missing")
        let error = try prepareError(folder: folder)
        XCTAssertEqual(error as? DatasetError, .noSuchDirectory(folder: folder))
        XCTAssertEqual("\(error)", "\(folder): no such directory")
    }

    func testAFileGivenAsTheFolderIsAnError() throws {
        let path = try directory.write([], to: "plain.png")
        XCTAssertEqual(try prepareError(folder: path) as? DatasetError, .notADirectory(folder: path))
    }

    /// The error `prepare` throws, after checking that it wrote nothing.
    private func prepareError(folder: String, resolution: Int? = nil) throws -> Error {
        let output = directory.file("never.pgds")
        var thrown: Error?
        XCTAssertThrowsError(try PreparedDataset.prepare(folder: folder, resolution: resolution, output: output)) {
            thrown = $0
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "a failed prepare left \(output)")
        let error = try XCTUnwrap(thrown)
        XCTAssertFalse("\(error)".contains("\n"), "error is not one line: \(error)")
        return error
    }
}

/// An allgather among threads: each call blocks until every rank has given its bytes for this round.
private final class RoundExchange: @unchecked Sendable {
    private let ranks: Int
    private let condition = NSCondition()
    private var deposits: [Int: [UInt8]] = [:]
    private var completed: [[UInt8]] = []
    private var generation = 0
    private var others: [String] = []

    init(ranks: Int) { self.ranks = ranks }

    func group(rank: Int, perRank: Int) -> PreparationGroup {
        PreparationGroup(rank: rank, size: ranks, imagesPerRound: perRank) { [self] in allgather($0, rank: rank) }
    }

    private func allgather(_ bytes: [UInt8], rank: Int) -> [[UInt8]] {
        condition.lock()
        defer { condition.unlock() }
        let round = generation
        deposits[rank] = bytes
        if deposits.count == ranks {
            completed = (0..<ranks).map { deposits[$0]! }
            deposits = [:]
            generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return completed
    }

    /// Runs another rank's preparation and records how it ended: as it should there, without a report, or not.
    func result(of rank: Int, _ body: () throws -> PreparationReport?) {
        let outcome: String
        do {
            outcome = try body() == nil ? "" : "rank \(rank) returned a report"
        } catch {
            outcome = "rank \(rank) failed: \(error)"
        }
        condition.lock()
        others.append(outcome)
        condition.broadcast()
        condition.unlock()
    }

    /// What went wrong on the other ranks; empty when nothing did.
    func waitForOtherRanks() -> [String] {
        condition.lock()
        defer { condition.unlock() }
        while others.count < ranks - 1 { condition.wait() }
        return others.filter { !$0.isEmpty }
    }
}
