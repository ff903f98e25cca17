import Foundation
import ImageIO
import SafeIO

/// Writes frames as a video through ffmpeg (`.mp4`) or as an animated PNG (`.png`, `.apng`), by the
/// extension of the output path. APNG is the fallback when ffmpeg is missing because libpng already
/// compresses each frame losslessly: no palette reduction (which GIF needs and which would band the
/// smooth early grids), no encoder of our own beyond re-labelling chunks, and every browser plays it.
public final class Animation {
    public let path: String
    private let framesPerSecond: Int
    private var encoder: Encoder
    private var size: (width: Int, height: Int)?

    private enum Encoder {
        case apng(APNGEncoder)
        /// Frames wait as PNG files in a scratch directory until ffmpeg encodes them all.
        case video(ffmpeg: String, frames: String, count: Int)
    }

    /// The default output when the caller names none: a video when ffmpeg is on PATH.
    public static var defaultExtension: String { ffmpegPath() == nil ? "png" : "mp4" }

    public init(path: String, framesPerSecond: Int) throws {
        guard (1...1000).contains(framesPerSecond) else {
            throw FileError(path: path, problem: "frame rate \(framesPerSecond) must be from 1 to 1000")
        }
        self.path = path
        self.framesPerSecond = framesPerSecond
        switch (path as NSString).pathExtension.lowercased() {
        case "png", "apng":
            encoder = .apng(APNGEncoder(framesPerSecond: framesPerSecond))
        case "mp4":
            guard let ffmpeg = Self.ffmpegPath() else {
                throw FileError(path: path, problem: "an .mp4 needs ffmpeg on PATH; write an animated .png instead")
            }
            let scratch = try TemporaryPaths.makeDirectory(named: "progan-frames")
            encoder = .video(ffmpeg: ffmpeg, frames: scratch, count: 0)
        default:
            throw FileError(
                path: path, problem: "unknown animation type (use .mp4 for a video or .png for an animated PNG)")
        }
    }

    deinit {
        if case .video(_, let frames, _) = encoder { TemporaryPaths.remove(frames) }
    }

    /// Adds a frame; every frame must have the size of the first.
    public func add(_ frame: RGBImage) throws {
        if let size, size != (frame.width, frame.height) {
            throw FileError(
                path: path,
                problem: "frame of \(frame.width)x\(frame.height) after frames of \(size.width)x\(size.height)")
        }
        size = (frame.width, frame.height)
        switch encoder {
        case .apng(var apng):
            try apng.add(frame)
            encoder = .apng(apng)
        case .video(let ffmpeg, let frames, let count):
            try frame.write(path: String(format: "%@/frame-%06d.png", frames, count))
            encoder = .video(ffmpeg: ffmpeg, frames: frames, count: count + 1)
        }
    }

    /// Writes the file, atomically; returns a description such as "12 frames of 512x256, APNG".
    @discardableResult
    public func finish() throws -> String {
        guard let size else { throw FileError(path: path, problem: "no frames to write") }
        switch encoder {
        case .apng(let apng):
            try AtomicFile.write(to: path, bytes: apng.encoded())
            return "\(apng.frameCount) frames of \(size.width)x\(size.height), animated PNG"
        case .video(let ffmpeg, let frames, let count):
            try AtomicFile.write(to: path) { temporaryPath in
                // H.264 in yuv420p (what every player takes) needs even sides; the padding is white.
                try runFFmpeg(
                    ffmpeg,
                    arguments: [
                        "-nostdin", "-y", "-loglevel", "error", "-framerate", String(framesPerSecond),
                        "-i", frames + "/frame-%06d.png", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", temporaryPath,
                    ])
            }
            return "\(count) frames of \(size.width)x\(size.height), H.264 video"
        }
    }

    private func runFFmpeg(_ ffmpeg: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpeg)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let lastLine = message.split(separator: "\n").last.map(String.init) ?? "no message"
            throw FileError(path: path, problem: "ffmpeg failed with status \(process.terminationStatus): \(lastLine)")
        }
    }

    static func ffmpegPath() -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        return directories.map { "\($0)/ffmpeg" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Nearest-neighbour resize, so that a 4x4 sample stays a crisp block of pixels in a large frame.
public func resizedNearest(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        let sourceRow = y * image.height / height * image.width
        for x in 0..<width {
            let source = (sourceRow + x * image.width / width) * 3, target = (y * width + x) * 3
            pixels[target] = image.pixels[source]
            pixels[target + 1] = image.pixels[source + 1]
            pixels[target + 2] = image.pixels[source + 2]
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// Builds an APNG from single PNG encodings: the first frame's IDAT chunks stay the default image, later
/// frames' image data moves into fdAT chunks, and an fcTL before each frame gives its timing.
struct APNGEncoder {
    private let framesPerSecond: Int
    private var header: [UInt8] = []
    private var body: [UInt8] = []
    private var sequence: UInt32 = 0
    private(set) var frameCount = 0

    init(framesPerSecond: Int) { self.framesPerSecond = framesPerSecond }

    mutating func add(_ frame: RGBImage) throws {
        let chunks = pngChunks(try frame.pngData())
        let imageHeader = chunks.first { $0.type == "IHDR" }!.data
        if frameCount == 0 { header = imageHeader }
        var control = bigEndian(sequence) + bigEndian(UInt32(frame.width)) + bigEndian(UInt32(frame.height))
        // Offset 0, 0; delay 1/fps s; dispose none; blend source (each frame replaces the whole canvas).
        control +=
            bigEndian(UInt32(0)) + bigEndian(UInt32(0)) + bigEndian(UInt16(1)) + bigEndian(UInt16(framesPerSecond)) + [
                0, 0,
            ]
        body += pngChunk("fcTL", control)
        sequence += 1
        for chunk in chunks where chunk.type == "IDAT" {
            if frameCount == 0 {
                body += pngChunk("IDAT", chunk.data)
            } else {
                body += pngChunk("fdAT", bigEndian(sequence) + chunk.data)
                sequence += 1
            }
        }
        frameCount += 1
    }

    /// The file: signature, IHDR, acTL (frame count, loop forever), the frames, IEND.
    func encoded() -> [UInt8] {
        pngSignature + pngChunk("IHDR", header) + pngChunk("acTL", bigEndian(UInt32(frameCount)) + bigEndian(UInt32(0)))
            + body + pngChunk("IEND", [])
    }
}

let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// Length, type, data, CRC-32 of type and data.
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeAndData = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(CRC32.checksum(typeAndData))
}

/// The chunks of a PNG that libpng just wrote (so well formed; checksums are not re-verified).
func pngChunks(_ png: [UInt8]) -> [(type: String, data: [UInt8])] {
    var chunks: [(type: String, data: [UInt8])] = [], offset = pngSignature.count
    while offset + 12 <= png.count {
        let length = png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
        chunks.append((type, Array(png[offset + 8..<offset + 8 + length])))
        offset += 12 + length
    }
    return chunks
}

func bigEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}
