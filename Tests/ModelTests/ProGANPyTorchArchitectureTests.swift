import Engine
import EngineTesting
import XCTest
@testable import Model

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
        for (resolution, g, d) in [
            (32, 20_719_628, 20_726_785), (64, 25_440_783, 25_448_449), (1024, 27_793_275, 27_801_889),
        ] {
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
        let inputMajor = EqualizedLatentProjection(
            &inputMajorLayout, "p", input: input, maps: maps, gain: 1.5, inputMajor: true)
        let outputMajor = EqualizedLatentProjection(
            &outputMajorLayout, "p", input: input, maps: maps, gain: 1.5, inputMajor: false)
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
        let config = NetworkConfig(
            resolution: 4, fmapBase: 64, fmapMax: 4, latentSize: 4, mbstdGroupSize: 2, arch: .pgp)
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
            let config = NetworkConfig(
                resolution: 8, fmapBase: 16, fmapMax: 4, latentSize: 4, mbstdGroupSize: 4, arch: arch)
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

    private func sliceBatch(_ x: Tensor, _ index: Int) -> Tensor {
        let perSample = x.count / x.shape[0]
        return Tensor(
            shape: [1] + x.shape.dropFirst(), values: Array(x.scalars[(index * perSample)..<((index + 1) * perSample)]))
    }
}

extension XCTestCase {
    /// d<f(weights), R>/d(weights) from `backward` against central differences at three elements of
    /// every parameter (first, middle, last).
    /// `tolerance` is the norm-wise relative error allowed.
    func checkParameterGradients(
        _ store: ParameterStore, _ label: String, tolerance: Double = 1e-2, _ f: (Weights) -> Tensor
    ) {
        var random = PhiloxRandom(seed: 18)
        let probe = random.normal(shape: withoutGradients { f(Weights(store)).shape })
        store.zeroGradients()
        backward(sum(mul(f(Weights(store)), probe)))
        let indices = store.layout.parameters.flatMap {
            [$0.offset, $0.offset + $0.count / 2, $0.offset + $0.count - 1]
        }
        let analytic = indices.map { Double(store.gradients.pointer[$0]) }
        let comparison = FiniteDifferences.compare(
            analytic: analytic, indices: indices, of: store.values.pointer, step: 1e-2
        ) {
            withoutGradients {
                zip(f(Weights(store)).scalars, probe.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
        }
        XCTAssertLessThanOrEqual(comparison.skipped * 10, indices.count, "\(label): too many kinks crossed")
        XCTAssertLessThanOrEqual(
            comparison.relativeError, tolerance, "\(label): relative error \(comparison.relativeError)")
    }
}
