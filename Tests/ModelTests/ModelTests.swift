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

private func randomStore(_ layout: ParameterLayout, seed: UInt64) -> ParameterStore {
    let store = ParameterStore(layout: layout)
    var random = PhiloxRandom(seed: seed)
    store.initialize { _, values in random.fillNormal(values) }
    return store
}

final class FadeInTests: XCTestCase {
    func config(_ arch: Architecture) -> NetworkConfig {
        NetworkConfig(resolution: 8, fmapBase: 32, fmapMax: 8, latentSize: 8, mbstdGroupSize: 2, arch: arch)
    }

    /// At alpha 0 the grown generator is exactly the old one upsampled; at alpha 1 it is the new block's
    /// output alone, and alpha in between moves continuously from one to the other.
    func testGeneratorFadeEndpoints() {
        for arch in Architecture.allCases {
            let generator = Generator(config(arch)), weights = Weights(randomStore(generator.layout, seed: 1))
            var random = PhiloxRandom(seed: 2)
            let latents = random.normal(shape: [4, 8])
            let old = upsample2x(generator(latents, resolution: 4, alpha: 1, weights: weights))
            let start = generator(latents, resolution: 8, alpha: 0, weights: weights)
            XCTAssertEqual(start.scalars, old.scalars, "\(arch)")
            let end = generator(latents, resolution: 8, alpha: 1, weights: weights)
            XCTAssertNotEqual(end.scalars, old.scalars, "\(arch)")
            let half = generator(latents, resolution: 8, alpha: 0.5, weights: weights)
            for i in 0..<half.count { XCTAssertEqual(half[i], 0.5 * (old[i] + end[i]), accuracy: 1e-5, "\(arch)") }
            let nearlyEnd = generator(latents, resolution: 8, alpha: 0.99999, weights: weights)
            for i in 0..<end.count { XCTAssertEqual(nearlyEnd[i], end[i], accuracy: 1e-4, "\(arch)") }
        }
    }

    /// At alpha 0 the grown discriminator scores an image exactly as the old one scores its 2x2 average.
    func testDiscriminatorFadeEndpoints() {
        for arch in Architecture.allCases {
            let discriminator = Discriminator(config(arch)), weights = Weights(randomStore(discriminator.layout, seed: 3))
            var random = PhiloxRandom(seed: 4)
            let images = random.normal(shape: [4, 3, 8, 8])
            let old = discriminator(avgPool2x2(images), alpha: 1, weights: weights)
            XCTAssertEqual(discriminator(images, alpha: 0, weights: weights).scalars, old.scalars, "\(arch)")
            let end = discriminator(images, alpha: 1, weights: weights)
            XCTAssertNotEqual(end.scalars, old.scalars, "\(arch)")
            let nearlyEnd = discriminator(images, alpha: 0.99999, weights: weights)
            for i in 0..<end.count { XCTAssertEqual(nearlyEnd[i], end[i], accuracy: 1e-3, "\(arch)") }
        }
    }

    func testOutputShapes() {
        for arch in Architecture.allCases {
            let generator = Generator(config(arch)), discriminator = Discriminator(config(arch))
            let g = Weights(randomStore(generator.layout, seed: 5)), d = Weights(randomStore(discriminator.layout, seed: 6))
            var random = PhiloxRandom(seed: 7)
            let images = generator(random.normal(shape: [6, 8]), resolution: 8, alpha: 1, weights: g)
            XCTAssertEqual(images.shape, [6, 3, 8, 8], "\(arch)")
            XCTAssertEqual(discriminator(images, alpha: 1, weights: d).shape, [6, 1], "\(arch)")
        }
    }
}

/// pro_gan_pytorch 3.4's networks (`--arch pgp`).
final class ProGANPyTorchArchitectureTests: XCTestCase {
    /// Parameter counts of pro_gan_pytorch's Generator(depth) and Discriminator(depth) with its defaults
    /// (latent 512, nf(s) = clip(16384 / 2^s, 1, 512)), summed over `parameters()` in pro-gan-pth 3.4:
    /// depth 5 (32x32) G 20,719,628, D 20,726,785; depth 6 (64x64) G 25,440,783, D 25,448,449;
    /// depth 10 (1024x1024) G 27,793,275, D 27,801,889. By hand, with every nf(s) = 512 up to s = 5:
    ///
    /// G, 4x4: transposed conv 512 -> 512 at 4x4 (4,194,304 + 512), conv3x3 (2,359,296 + 512),
    ///         toRGB (1,536 + 3)                                                            = 6,556,163
    /// G block: conv3x3 twice + toRGB = 4,721,155 for each of 8x8, 16x16, 32x32 (and 64x64)
    /// D, 4x4: conv3x3 513 -> 512 (2,363,904 + 512), conv4x4 512 -> 512 (4,194,304 + 512),
    ///         conv1x1 512 -> 1 (513), fromRGB 3 -> 512 (2,048)                             = 6,561,793
    /// D block: fromRGB + conv3x3 twice = 4,721,664 each.
    func testParameterCountsMatchProGANPyTorch() {
        for (resolution, g, d) in [(32, 20_719_628, 20_726_785), (64, 25_440_783, 25_448_449), (1024, 27_793_275, 27_801_889)] {
            let config = NetworkConfig.proGANPyTorch(resolution: resolution)
            XCTAssertEqual(Generator(config).layout.count, g, "G at \(resolution)")
            XCTAssertEqual(Discriminator(config).layout.count, d, "D at \(resolution)")
        }
        let blocks = 3
        XCTAssertEqual(6_556_163 + blocks * 4_721_155, 20_719_628)
        XCTAssertEqual(6_561_793 + blocks * 4_721_664, 20_726_785)
    }

    /// The transposed-convolution layout [in, maps, 4, 4] is the official dense weight [maps·16, in]
    /// transposed: the same weights in either layout give the same maps.
    func testLatentProjectionLayoutsAreTransposes() {
        let input = 5, maps = 3
        var inputMajorLayout = ParameterLayout(), outputMajorLayout = ParameterLayout()
        let inputMajor = EqualizedLatentProjection(&inputMajorLayout, "p", input: input, maps: maps, gain: 1.5, inputMajor: true)
        let outputMajor = EqualizedLatentProjection(&outputMajorLayout, "p", input: input, maps: maps, gain: 1.5, inputMajor: false)
        let stored = randomStore(inputMajorLayout, seed: 11), transposed = ParameterStore(layout: outputMajorLayout)
        let source = stored.values.pointer, target = transposed.values.pointer
        for i in 0..<input { for j in 0..<(maps * 16) { target[j * input + i] = source[i * maps * 16 + j] } }
        for b in 0..<maps { target[input * maps * 16 + b] = source[input * maps * 16 + b] }
        var random = PhiloxRandom(seed: 12)
        let latents = random.normal(shape: [2, input])
        let a = inputMajor(latents, Weights(stored)), b = outputMajor(latents, Weights(transposed))
        XCTAssertEqual(a.shape, [2, maps, 4, 4])
        for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: 1e-5) }
        // The bias is one value per map, added to all 16 pixels.
        source[input * maps * 16 + 1] += 1
        let shifted = inputMajor(latents, Weights(stored))
        for i in 0..<a.count { XCTAssertEqual(shifted[i] - a[i], (i / 16) % maps == 1 ? 1 : 0, accuracy: 1e-5) }
    }

    /// pro_gan_pytorch groups the minibatch-stddev statistic strided and takes a batch no larger than the
    /// group size as one group.
    func testStddevGroupsAreStridedAndSmallBatchesAreOneGroup() {
        let config = NetworkConfig(resolution: 4, fmapBase: 64, fmapMax: 4, latentSize: 4, mbstdGroupSize: 2, arch: .pgp)
        let discriminator = Discriminator(config), weights = Weights(randomStore(discriminator.layout, seed: 13))
        var random = PhiloxRandom(seed: 14)
        let images = random.normal(shape: [4, 3, 4, 4])
        // Samples 0 and 2 form one strided group: scored together they give what they give in the batch.
        let scores = discriminator(images, alpha: 1, weights: weights)
        let pair = Tensor(shape: [2, 3, 4, 4], values: Array(images.scalars[0..<48] + images.scalars[96..<144]))
        let pairScores = discriminator(pair, alpha: 1, weights: weights)
        XCTAssertEqual(pairScores[0], scores[0], accuracy: 1e-5)
        XCTAssertEqual(pairScores[1], scores[2], accuracy: 1e-5)
        let consecutive = Tensor(shape: [2, 3, 4, 4], values: Array(images.scalars[0..<96]))
        XCTAssertNotEqual(discriminator(consecutive, alpha: 1, weights: weights)[0], scores[0])
        // A single image is a group of one, not an error.
        XCTAssertEqual(discriminator(sliceBatch(images, 0), alpha: 1, weights: weights).shape, [1, 1])
    }

    /// Gradients of G and D with respect to every layer's parameters, mid fade-in, against central
    /// differences, for both architectures.
    func testParameterGradientsMatchFiniteDifferences() {
        for arch in Architecture.allCases {
            let config = NetworkConfig(resolution: 8, fmapBase: 16, fmapMax: 4, latentSize: 4, mbstdGroupSize: 4, arch: arch)
            let generator = Generator(config), discriminator = Discriminator(config)
            var random = PhiloxRandom(seed: 15)
            let latents = random.normal(shape: [4, 4]), images = random.normal(shape: [4, 3, 8, 8])
            checkParameterGradients(randomStore(generator.layout, seed: 16), "\(arch) G") {
                generator(latents, resolution: 8, alpha: 0.6, weights: $0)
            }
            checkParameterGradients(randomStore(discriminator.layout, seed: 17), "\(arch) D") {
                discriminator(images, alpha: 0.6, weights: $0)
            }
        }
    }

    /// d<f(weights), R>/d(weights) from `backward` against central differences at three elements of
    /// every parameter (first, middle, last).
    private func checkParameterGradients(_ store: ParameterStore, _ label: String, _ f: (Weights) -> Tensor) {
        var random = PhiloxRandom(seed: 18)
        let probe = random.normal(shape: withoutGradients { f(Weights(store)).shape })
        store.zeroGradients()
        backward(sum(mul(f(Weights(store)), probe)))
        let indices = store.layout.parameters.flatMap { [$0.offset, $0.offset + $0.count / 2, $0.offset + $0.count - 1] }
        let analytic = indices.map { Double(store.gradients.pointer[$0]) }
        let comparison = FiniteDifferences.compare(analytic: analytic, indices: indices, of: store.values.pointer, step: 1e-2) {
            withoutGradients { zip(f(Weights(store)).scalars, probe.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        }
        XCTAssertLessThanOrEqual(comparison.skipped * 10, indices.count, "\(label): too many kinks crossed")
        XCTAssertLessThanOrEqual(comparison.relativeError, 1e-2, "\(label): relative error \(comparison.relativeError)")
    }

    private func sliceBatch(_ x: Tensor, _ index: Int) -> Tensor {
        let perSample = x.count / x.shape[0]
        return Tensor(shape: [1] + x.shape.dropFirst(), values: Array(x.scalars[(index * perSample)..<((index + 1) * perSample)]))
    }
}

final class ScheduleTests: XCTestCase {
    /// 600 kimg stabilization and 600 kimg fade-in per resolution, as in the official config.
    let config = ScheduleConfig(stabilizeKimg: 600, fadeKimg: 600, totalKimg: 12000, minibatch: [4: 128, 32: 64],
                                minibatchDefault: 16, learningRate: [1024: 0.0015], learningRateDefault: 0.001)

    func testScheduleTable() {
        let table: [(kimg: Double, resolution: Int, phase: Phase, alpha: Float)] = [
            (0, 4, .stabilize, 1), (599.999, 4, .stabilize, 1),
            (600, 8, .fadeIn, 0), (900, 8, .fadeIn, 0.5), (1199.999, 8, .fadeIn, 1),
            (1200, 8, .stabilize, 1), (1800, 16, .fadeIn, 0), (2100, 16, .fadeIn, 0.5),
            (3000, 32, .fadeIn, 0), (3150, 32, .fadeIn, 0.25),
            (8999.999, 512, .stabilize, 1), (9300, 1024, .fadeIn, 0.5), (9600, 1024, .stabilize, 1), (12000, 1024, .stabilize, 1), (50000, 1024, .stabilize, 1),
        ]
        for row in table {
            let point = schedulePoint(imagesShown: Int((row.kimg * 1000).rounded()), config: config, finalResolution: 1024)
            XCTAssertEqual(point.resolution, row.resolution, "kimg \(row.kimg)")
            XCTAssertEqual(point.phase, row.phase, "kimg \(row.kimg)")
            XCTAssertEqual(point.alpha, row.alpha, accuracy: 1e-5, "kimg \(row.kimg)")
        }
    }

    func testMinibatchAndLearningRatePerResolution() {
        XCTAssertEqual(schedulePoint(imagesShown: 0, config: config, finalResolution: 1024).minibatch, 128)
        let at32 = schedulePoint(imagesShown: 3_600_000, config: config, finalResolution: 1024)
        XCTAssertEqual(at32.resolution, 32)
        XCTAssertEqual(at32.minibatch, 64)
        XCTAssertEqual(at32.learningRate, 0.001)
        XCTAssertEqual(schedulePoint(imagesShown: 11_000_000, config: config, finalResolution: 1024).learningRate, 0.0015)
        XCTAssertEqual(schedulePoint(imagesShown: 1_500_000, config: config, finalResolution: 1024).minibatch, 16)
    }

    /// `imagesShown(atResolution:alpha:)` inverts the schedule: at the count it returns the schedule
    /// stands at that resolution and fade-in weight, and one image earlier it does not yet.
    func testImagesShownInvertsTheSchedule() {
        for (resolution, alpha) in [(4, Float(1)), (8, 0.25), (8, 1), (32, 0.5), (256, 0.001), (1024, 1)] as [(Int, Float)] {
            let images = imagesShown(atResolution: resolution, alpha: alpha, config: config)
            let point = schedulePoint(imagesShown: images, config: config, finalResolution: 1024)
            XCTAssertEqual(point.resolution, resolution, "\(resolution) at \(alpha)")
            XCTAssertEqual(point.alpha, alpha, accuracy: 1e-5, "\(resolution) at \(alpha)")
            XCTAssertEqual(point.phase, alpha < 1 ? .fadeIn : .stabilize, "\(resolution) at \(alpha)")
            if images > 0 {
                let before = schedulePoint(imagesShown: images - 1, config: config, finalResolution: 1024)
                XCTAssertTrue(before.resolution != resolution || before.alpha < alpha || before.phase != point.phase,
                              "\(resolution) at \(alpha) is reached before \(images) images")
            }
        }
    }

    /// A run whose final resolution is low stops growing there.
    func testFinalResolutionCapsGrowth() {
        let point = schedulePoint(imagesShown: 5_000_000, config: config, finalResolution: 16)
        XCTAssertEqual(point.resolution, 16)
        XCTAssertEqual(point.phase, .stabilize)
        XCTAssertEqual(point.alpha, 1)
    }
}
