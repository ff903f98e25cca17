import Dataset
import Engine
import Foundation
import ImageIO
import Model
import XCTest
@testable import Training

/// Class-conditional training: labels from the dataset, G's classes drawn from the data, the AC-GAN terms.
final class ConditionalTrainingTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "/conditional-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// 12 flat-coloured images, dark ones in `dark/` and light ones in `light/` (unlabelled: all in one folder).
    private func dataset(labelled: Bool) throws -> PreparedDataset {
        let folder = directory + "/images"
        for index in 0..<12 {
            let name = index % 2 == 0 ? "dark" : "light", value = UInt8(index % 2 == 0 ? 20 + index : 230 - index)
            let subfolder = labelled ? "\(folder)/\(name)" : folder
            try FileManager.default.createDirectory(atPath: subfolder, withIntermediateDirectories: true)
            try RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: value, count: 8 * 8 * 3))
                .write(path: String(format: "%@/%02d.png", subfolder, index))
        }
        try PreparedDataset.prepare(folder: folder, resolution: 8, output: directory + "/set.pgds")
        return try PreparedDataset(path: directory + "/set.pgds")
    }

    private func config(_ kind: ConditioningKind) -> TrainingConfig {
        var config = TrainingConfig.tiny
        config.network = NetworkConfig(resolution: 8, fmapBase: 32, fmapMax: 8, latentSize: 8)
        config.network.conditioning = Conditioning(kind: kind)
        config.schedule.stabilizeKimg = 0.016
        config.schedule.fadeKimg = 0.016
        return config
    }

    func testStepsTakeTheDatasetsClassesAndLogTheClassTerms() throws {
        let data = try dataset(labelled: true)
        for kind in ConditioningKind.allCases {
            let trainer = try Trainer(config: config(kind), dataset: data)
            XCTAssertEqual(trainer.config.network.conditioning?.classNames, ["dark", "light"])
            var log: StepLog = []
            for _ in 0..<6 { log = try trainer.step() ?? [] }
            XCTAssertEqual(trainer.progress.resolution, 8)
            let names = log.map(\.0)
            XCTAssertEqual(names.contains("d_class"), kind == .acgan, "\(kind): \(names)")
            XCTAssertEqual(names.contains("g_class"), kind == .acgan, "\(kind): \(names)")
            XCTAssertTrue(log.allSatisfy { $0.1.isFinite }, "\(kind): \(log)")
        }
    }

    func testUnlabelledOrDifferentlyLabelledDatasetsAreRefused() throws {
        let unlabelled = try dataset(labelled: false)
        XCTAssertThrowsError(try Trainer(config: config(.acgan), dataset: unlabelled)) {
            XCTAssertTrue("\($0)".contains("needs a labelled dataset"), "\($0)")
        }
        XCTAssertNoThrow(
            try Trainer(config: TrainingConfig.tiny.with { $0.network.resolution = 8 }, dataset: unlabelled))
    }

    func testConfiguredClassesMustBeTheDatasets() throws {
        let data = try dataset(labelled: true)
        var other = config(.projection)
        other.network.conditioning?.classNames = ["cats", "dogs"]
        XCTAssertThrowsError(try Trainer(config: other, dataset: data)) {
            XCTAssertTrue("\($0)".contains("are not the configuration's (cats, dogs)"), "\($0)")
        }
    }

    /// G's classes follow the data's class frequencies, and depend only on the seed, step and sample.
    func testDrawnClassesFollowTheData() {
        let labels = ClassLabels(labels: [0, 0, 0, 1, 0, 0, 0, 1], classes: 2, random: RandomStreams(seed: 5))
        let drawn = labels.drawn(step: 3, samples: 0..<4000)
        let second = (0..<4000).filter { drawn.pointer[$0 * 2 + 1] == 1 }.count
        XCTAssertEqual(Double(second) / 4000, 0.25, accuracy: 0.03)
        XCTAssertEqual(labels.drawn(step: 3, samples: 100..<110).scalars, Array(drawn.scalars[200..<220]))
        XCTAssertNotEqual(labels.drawn(step: 4, samples: 0..<40).scalars, Array(drawn.scalars[0..<80]))
    }

    /// The classification terms are cond_weight x (mean cross-entropy of each kept batch's logits), added to
    /// the total and to its logged value.
    func testClassificationTermsAreTheOfficialCrossEntropy() {
        var network = NetworkConfig(resolution: 4, fmapBase: 16, fmapMax: 4, latentSize: 4)
        network.conditioning = Conditioning(kind: .acgan, condWeight: 2.5, classNames: ["a", "b", "c"])
        let discriminator = Discriminator(network)
        let store = ParameterStore(layout: discriminator.layout)
        var random = PhiloxRandom(seed: 8)
        initializeParameters(store, random: &random)
        let reals = random.normal(shape: [4, 3, 4, 4]), fakes = random.normal(shape: [4, 3, 4, 4])
        let classes = [2, 0, 1, 2], labels = oneHot(classes, classes: 3)
        let critic = LabelledCritic(
            discriminator, labels: labels, alpha: 1, weights: Weights(store), keepingLogitsOf: [reals, fakes])
        let base = add(mean(critic.scores(reals)), mean(critic.scores(fakes)))
        let terms = critic.addingClassification(
            to: LossTerms(total: base, logged: [("d_loss", base.scalar)]), name: "d_class", total: "d_loss")
        var expected = 0.0
        for images in [reals, fakes] {
            let logits = discriminator.outputs(images, labels: labels, alpha: 1, weights: Weights(store)).classLogits!
            for (row, label) in classes.enumerated() {
                let values = (0..<3).map { Double(logits.pointer[row * 3 + $0]) }
                expected += (Foundation.log(values.map(Foundation.exp).reduce(0, +)) - values[label]) / 4
            }
        }
        let logged = Dictionary(uniqueKeysWithValues: terms.logged)
        XCTAssertEqual(Double(logged["d_class"]!), 2.5 * expected, accuracy: 1e-4)
        XCTAssertEqual(Double(logged["d_loss"]!), Double(base.scalar) + 2.5 * expected, accuracy: 1e-4)
        XCTAssertEqual(terms.total.scalar, logged["d_loss"]!)
    }
}
