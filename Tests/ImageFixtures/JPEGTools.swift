import Foundation
import ImageIO

/// libjpeg-turbo's command-line tools (Debian's libjpeg-turbo-progs), the reference the JPEG decoder
/// is held to: cjpeg makes the test files, djpeg says what their pixels are.
public enum JPEGTools {
    /// The emoji set of libjs-emojify, PNGs of 64x64 and 75x75 in every colour type.
    public static let emojiFolder = "/usr/share/javascript/emojify.js/images/emoji"

    /// `image` compressed by cjpeg with `options` (e.g. ["-progressive"], ["-grayscale"]).
    public static func compress(_ image: RGBImage, options: [String] = []) throws -> [UInt8] {
        try run("cjpeg", options, input: ppm(image))
    }

    /// djpeg's decoding of `jpeg`: its PPM (colour) or PGM (gray, replicated here to R = G = B).
    public static func reference(_ jpeg: [UInt8]) throws -> RGBImage {
        try parsePNM(run("djpeg", ["-ppm"], input: jpeg))
    }

    /// A binary PPM (P6), cjpeg's input format.
    public static func ppm(_ image: RGBImage) -> [UInt8] {
        Array("P6\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }

    /// Parses djpeg's output: "P6" or "P5", width, height, 255, one whitespace byte, then the samples.
    static func parsePNM(_ bytes: [UInt8]) throws -> RGBImage {
        var fields: [String] = []
        var position = 0
        while fields.count < 4 {
            while position < bytes.count, bytes[position] == 0x20 || (0x09...0x0D).contains(bytes[position]) {
                position += 1
            }
            let start = position
            while position < bytes.count, !(bytes[position] == 0x20 || (0x09...0x0D).contains(bytes[position])) {
                position += 1
            }
            guard position > start else { throw ToolFailure(message: "djpeg wrote a short header") }
            fields.append(String(decoding: bytes[start..<position], as: UTF8.self))
        }
        let samples = Array(bytes[(position + 1)...])
        guard let width = Int(fields[1]), let height = Int(fields[2]), fields[3] == "255" else {
            throw ToolFailure(message: "djpeg wrote an unexpected header \(fields)")
        }
        switch fields[0] {
        case "P6": return RGBImage(width: width, height: height, pixels: samples)
        case "P5": return RGBImage(width: width, height: height, pixels: samples.flatMap { [$0, $0, $0] })
        default: throw ToolFailure(message: "djpeg wrote \(fields[0]), not P5 or P6")
        }
    }

    /// Runs `tool` with `input` on its standard input and returns its standard output.
    static func run(_ tool: String, _ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Writing from another thread: a tool may fill the output pipe before it has read all its input.
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolFailure(message: "\(tool) \(arguments) exited with status \(process.terminationStatus)")
        }
        return Array(output)
    }

    public struct ToolFailure: Error, CustomStringConvertible {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }
}
