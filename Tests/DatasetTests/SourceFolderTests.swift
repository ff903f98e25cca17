@testable import Dataset
import Foundation
import ImageFixtures
import ImageIO
import TestSupport
import XCTest

/// Nested, labelled folders of JPEGs and PNGs, with the files a hostile folder holds.
final class SourceFolderTests: TemporaryDirectoryTestCase {
    private func emoji(_ name: String) throws -> RGBImage {
        try RGBImage.read(path: "\(JPEGTools.emojiFolder)/\(name).png")
    }

    /// cats: 2 JPEGs (one progressive, one in a deeper folder) and a PNG; dogs: a gray JPEG and a truncated
    /// one; birds: one PNG.
    private func makeLabelledFolder() throws -> String {
        let root = try directory.folder("pets")
        for folder in ["cats", "cats/old", "dogs", "birds"] { _ = try directory.folder("pets/" + folder) }
        try directory.write(try JPEGTools.compress(try emoji("smile")), to: "pets/cats/a.jpg")
        try directory.write(
            try JPEGTools.compress(try emoji("clock1"), options: ["-progressive"]), to: "pets/cats/old/b.JPEG")
        try emoji("shipit").write(path: root + "/cats/c.png")
        try directory.write(
            try JPEGTools.compress(try emoji("squirrel"), options: ["-grayscale"]), to: "pets/dogs/d.jpg")
        let truncated = try JPEGTools.compress(try emoji("smile"))
        try directory.write(Array(truncated.prefix(truncated.count / 2)), to: "pets/dogs/e.jpg")
        try emoji("black_circle").write(path: root + "/birds/f.png")
        try directory.write(Array("not an image".utf8), to: "pets/dogs/notes.txt")
        return root
    }

    func testFirstFolderLevelIsTheClassAndCountsMatch() throws {
        let output = directory.file("pets.pgds")
        let report = try XCTUnwrap(
            PreparedDataset.prepare(folder: try makeLabelledFolder(), resolution: 16, output: output))
        XCTAssertEqual(report.imagesUsed, 5)
        XCTAssertEqual(
            report.classes,
            [
                ClassCount(name: "birds", count: 1), ClassCount(name: "cats", count: 3),
                ClassCount(name: "dogs", count: 1),
            ])
        XCTAssertEqual(report.skipped.map(\.file), ["dogs/e.jpg"])
        XCTAssertEqual(
            "\(report.skipped[0].error)",
            "\(directory.file("pets"))/dogs/e.jpg: truncated or corrupt JPEG data (Premature end of JPEG file)")
        let dataset = try PreparedDataset(path: output)
        XCTAssertEqual(dataset.classNames, ["birds", "cats", "dogs"])
        // Byte order of the relative paths: birds/f, cats/a, cats/c, cats/old/b, dogs/d.
        XCTAssertEqual(try dataset.labels(), [0, 1, 1, 1, 2])
        XCTAssertEqual(
            try dataset.sources().map(\.path),
            ["birds/f.png", "cats/a.jpg", "cats/c.png", "cats/old/b.JPEG", "dogs/d.jpg"])
        // The JPEG's pixels are djpeg's, cropped and resized like a PNG's.
        let reference = try JPEGTools.reference(try directory.read("pets/dogs/d.jpg"))
        XCTAssertEqual(try dataset.image(4, resolution: 16), reference.centreCropped().areaResized(toSide: 16))
    }

    func testLabelsJSONMapsFilesToClasses() throws {
        let root = try makeLabelledFolder()
        let table = [
            ["birds/f.png", "round"], ["cats/a.jpg", "face"], ["cats/c.png", "face"], ["cats/old/b.JPEG", "round"],
            ["dogs/d.jpg", 7], ["dogs/e.jpg", "face"],
        ]
        try JSONSerialization.data(withJSONObject: ["labels": table]).write(
            to: URL(fileURLWithPath: root + "/labels.json"))
        let output = directory.file("pets.pgds")
        let report = try XCTUnwrap(PreparedDataset.prepare(folder: root, resolution: 8, output: output))
        XCTAssertEqual(
            report.classes,
            [ClassCount(name: "7", count: 1), ClassCount(name: "face", count: 2), ClassCount(name: "round", count: 2)])
        XCTAssertEqual(try PreparedDataset(path: output).labels(), [2, 1, 1, 2, 0])
    }

    func testAFileMissingFromLabelsJSONIsAnErrorNamingIt() throws {
        let root = try makeLabelledFolder()
        try Data(#"{"labels": [["cats/a.jpg", "x"]]}"#.utf8).write(to: URL(fileURLWithPath: root + "/labels.json"))
        XCTAssertThrowsError(try PreparedDataset.prepare(folder: root, resolution: 8, output: directory.file("x.pgds")))
        {
            XCTAssertEqual("\($0)", "\(root)/labels.json: no class for birds/f.png")
        }
    }

    func testFIFOsAndSocketsAreSkippedWithoutOpeningAndNonUTF8NamesWork() throws {
        let folder = try directory.folder("odd")
        XCTAssertEqual(mkfifo(folder + "/x.png", 0o600), 0)
        // Latin-1 "é": not UTF-8.
        let latin1: [UInt8] = Array(folder.utf8) + Array("/caf".utf8) + [0xE9] + Array(".png".utf8)
        let bytes = try (try emoji("smile")).pngData()
        let path = latin1.map { CChar(bitPattern: $0) } + [0]
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual(write(descriptor, bytes, bytes.count), bytes.count)
        close(descriptor)
        // A prepare that opened the FIFO would wait here forever for a writer.
        let report = try XCTUnwrap(
            PreparedDataset.prepare(folder: folder, resolution: 8, output: directory.file("odd.pgds")))
        XCTAssertEqual(report.imagesUsed, 1)
        XCTAssertEqual(report.skipped.map { "\($0.error)" }, ["\(folder)/x.png: not a regular file (a FIFO)"])
        XCTAssertEqual(try PreparedDataset(path: directory.file("odd.pgds")).sources().map(\.path), ["caf\u{FFFD}.png"])
    }

    func testMaxImagesTakesTheFirstFilesInPathOrder() throws {
        let report = try XCTUnwrap(
            PreparedDataset.prepare(
                folder: try makeLabelledFolder(), resolution: 8, maxImages: 2, output: directory.file("two.pgds")))
        XCTAssertEqual(report.imagesUsed, 2)
        XCTAssertEqual(
            try PreparedDataset(path: directory.file("two.pgds")).sources().map(\.path), ["birds/f.png", "cats/a.jpg"])
    }

    func testTheSameFolderGivesTheSameBytes() throws {
        let root = try makeLabelledFolder()
        try PreparedDataset.prepare(folder: root, resolution: 16, output: directory.file("1.pgds"))
        try PreparedDataset.prepare(folder: root, resolution: 16, output: directory.file("2.pgds"))
        XCTAssertEqual(try directory.read("1.pgds"), try directory.read("2.pgds"))
    }
}
