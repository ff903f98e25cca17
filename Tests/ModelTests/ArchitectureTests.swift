import Engine
import XCTest
@testable import Model

final class ArchitectureTests: XCTestCase {
    /// The paper's networks at 1024x1024 (official networks.py, fmap_base 8192, fmap_max 512, latent 512).
    /// Counted by hand from the official layer list, with nf(s) = min(8192 / 2^s, 512):
    ///
    /// G, 4x4: dense 512 -> 512·16 without bias (4,194,304) + one bias per map (512),
    ///         conv3x3 512->512 (2,359,296 + 512), toRGB 512->3 (1,536 + 3)           = 6,556,163
    /// G block at 2^r (r = 3...10): conv3x3 nf(r-2)->nf(r-1), conv3x3 nf(r-1)->nf(r-1), toRGB nf(r-1)->3
    ///         r = 3, 4, 5: 3 x (2,359,808 + 2,359,808 + 1,539)                       = 14,163,465
    ///         r = 6: 1,179,904 + 590,080 + 771 = 1,770,755;  r = 7: 295,040 + 147,584 + 387 = 443,011
    ///         r = 8: 73,792 + 36,928 + 195 = 110,915;  r = 9: 18,464 + 9,248 + 99 = 27,811
    ///         r = 10: 4,624 + 2,320 + 51 = 6,995                       G total = 23,079,115 (paper: 23.1M)
    ///
    /// D, 4x4: conv3x3 (512 + 1 stddev map)->512 (2,363,904 + 512), dense 8192->512 (4,194,304 + 512),
    ///         dense 512->1 (512 + 1), fromRGB 3->512 (1,536 + 512)                    = 6,561,793
    /// D block at 2^r: fromRGB 3->nf(r-1), conv3x3 nf(r-1)->nf(r-1), conv3x3 nf(r-1)->nf(r-2)
    ///         r = 3, 4, 5: 3 x (2,048 + 2,359,808 + 2,359,808)                       = 14,164,992
    ///         r = 6: 1,024 + 590,080 + 1,180,160 = 1,771,264;  r = 7: 512 + 147,584 + 295,168 = 443,264
    ///         r = 8: 256 + 36,928 + 73,856 = 111,040;  r = 9: 128 + 9,248 + 18,496 = 27,872
    ///         r = 10: 64 + 2,320 + 4,640 = 7,024                       D total = 23,087,249 (paper: 23.1M)
    func testPaperParameterCounts() {
        let config = NetworkConfig(resolution: 1024)
        XCTAssertEqual(Generator(config).layout.count, 23_079_115)
        XCTAssertEqual(Discriminator(config).layout.count, 23_087_249)

        // The same counts from the layer formulas, so a change of formula and of code cannot agree by accident.
        func conv(_ input: Int, _ output: Int, _ kernel: Int) -> Int { input * output * kernel * kernel + output }
        let nf = { (stage: Int) in min(8192 >> stage, 512) }
        var g = 512 * nf(1) * 16 + nf(1) + conv(nf(1), nf(1), 3) + conv(nf(1), 3, 1)
        var d = conv(nf(1) + 1, nf(1), 3) + (nf(1) * 16 * nf(0) + nf(0)) + (nf(0) + 1) + conv(3, nf(1), 1)
        for r in 3...10 {
            g += conv(nf(r - 2), nf(r - 1), 3) + conv(nf(r - 1), nf(r - 1), 3) + conv(nf(r - 1), 3, 1)
            d += conv(3, nf(r - 1), 1) + conv(nf(r - 1), nf(r - 1), 3) + conv(nf(r - 1), nf(r - 2), 3)
        }
        XCTAssertEqual(g, 23_079_115)
        XCTAssertEqual(d, 23_087_249)
    }

    func testActiveParametersArePrefixesInGrowthOrder() {
        let config = NetworkConfig(resolution: 16, fmapBase: 64, fmapMax: 8, latentSize: 8)
        let generator = Generator(config), discriminator = Discriminator(config)
        let counts = [4, 8, 16].map { generator.activeParameterCount(resolution: $0) }
        XCTAssertEqual(counts, counts.sorted())
        XCTAssertEqual(counts.last, generator.layout.count)
        XCTAssertEqual(discriminator.activeParameterCount(resolution: 16), discriminator.layout.count)
        // Every parameter of the 8x8 block lies inside the 8x8 prefix, and none of the 16x16 block does.
        for parameter in generator.layout.parameters {
            let inPrefix = parameter.offset + parameter.count <= counts[1]
            XCTAssertEqual(inPrefix, !parameter.name.hasPrefix("g.16x16"), parameter.name)
        }
    }

    func testInvalidConfigurationsAreRejected() {
        XCTAssertThrowsError(try NetworkConfig(resolution: 48).validate()) { XCTAssertTrue("\($0)".contains("48")) }
        XCTAssertThrowsError(try NetworkConfig(resolution: 2048).validate())
        XCTAssertThrowsError(try NetworkConfig(resolution: 32, latentSize: 0).validate())
        XCTAssertNoThrow(try NetworkConfig(resolution: 4).validate())
    }
}
