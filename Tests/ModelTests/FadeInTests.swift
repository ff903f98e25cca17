import Engine
import XCTest
@testable import Model

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
            let discriminator = Discriminator(config(arch)),
                weights = Weights(randomStore(discriminator.layout, seed: 3))
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
            let g = Weights(randomStore(generator.layout, seed: 5)),
                d = Weights(randomStore(discriminator.layout, seed: 6))
            var random = PhiloxRandom(seed: 7)
            let images = generator(random.normal(shape: [6, 8]), resolution: 8, alpha: 1, weights: g)
            XCTAssertEqual(images.shape, [6, 3, 8, 8], "\(arch)")
            XCTAssertEqual(discriminator(images, alpha: 1, weights: d).shape, [6, 1], "\(arch)")
        }
    }
}
