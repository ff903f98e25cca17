import SafeIO

/// Builds PNG files byte by byte, so the decoding tests need neither fixtures
/// nor an encoder that might share the decoder's blind spots. The zlib stream
/// uses only stored (uncompressed) deflate blocks, which every inflater must
/// accept, so no compressor is needed either.
struct TestPNG {
    enum ColorType: UInt8 {
        case gray = 0
        case rgb = 2
        case palette = 3
        case grayAlpha = 4
        case rgba = 6

        var samplesPerPixel: Int {
            switch self {
            case .gray, .palette: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    var width: Int
    var height: Int
    var bitDepth: Int
    var colorType: ColorType
    /// Row-major, channel-interleaved, one element per sample (< 2^bitDepth).
    var samples: [Int]
    /// PLTE entries as R, G, B.
    var palette: [[UInt8]] = []
    /// The raw tRNS chunk body, whose layout depends on the color type.
    var transparency: [UInt8]?

    func encoded() -> [UInt8] {
        precondition(samples.count == width * height * colorType.samplesPerPixel, "sample count")
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let header =
            bigEndian(UInt32(width)) + bigEndian(UInt32(height))
            + [UInt8(bitDepth), colorType.rawValue, 0, 0, 0]  // deflate, adaptive filters, no interlace
        png += chunk("IHDR", header)
        if !palette.isEmpty {
            png += chunk("PLTE", palette.flatMap { $0 })
        }
        if let transparency {
            png += chunk("tRNS", transparency)
        }
        png += chunk("IDAT", zlibStored(scanlines()))
        png += chunk("IEND", [])
        return png
    }

    // Each row is filter type 0 (None) followed by its samples packed most
    // significant bit first; rows of sub-byte samples are padded to a byte.
    private func scanlines() -> [UInt8] {
        let samplesPerRow = width * colorType.samplesPerPixel
        var bytes: [UInt8] = []
        for row in 0..<height {
            bytes.append(0)
            let rowSamples = samples[row * samplesPerRow..<(row + 1) * samplesPerRow]
            if bitDepth == 16 {
                bytes += rowSamples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
                continue
            }
            var accumulator = 0
            var bitsInAccumulator = 0
            for sample in rowSamples {
                accumulator = accumulator << bitDepth | sample
                bitsInAccumulator += bitDepth
                if bitsInAccumulator == 8 {
                    bytes.append(UInt8(accumulator))
                    accumulator = 0
                    bitsInAccumulator = 0
                }
            }
            if bitsInAccumulator > 0 {
                bytes.append(UInt8(accumulator << (8 - bitsInAccumulator)))
            }
        }
        return bytes
    }
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}

func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeAndData = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(CRC32.checksum(typeAndData))
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 section 3.2.4).
func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var stream: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window; header check bits make it a multiple of 31
    let maximumBlockLength = 0xFFFF
    var offset = 0
    repeat {
        let length = min(maximumBlockLength, data.count - offset)
        let isFinal = offset + length == data.count
        stream.append(isFinal ? 1 : 0)  // BFINAL bit, BTYPE 00 = stored
        stream += [UInt8(length & 0xFF), UInt8(length >> 8)]
        stream += [UInt8(~length & 0xFF), UInt8(~length >> 8 & 0xFF)]
        stream += data[offset..<offset + length]
        offset += length
    } while offset < data.count
    return stream + bigEndian(adler32(data))
}

func adler32(_ data: [UInt8]) -> UInt32 {
    let modulus: UInt32 = 65521
    var (a, b): (UInt32, UInt32) = (1, 0)
    for byte in data {
        a = (a + UInt32(byte)) % modulus
        b = (b + a) % modulus
    }
    return b << 16 | a
}
