import CheckpointFile
import Foundation
import Model
import SafeIO

/// What the sections of a checkpoint file (the `CheckpointFile` container, format version 1) hold:
/// "state" is the JSON `TrainingState` (config, counters, the tensor table); every other section is one
/// float32 buffer. The raw values are the names written in the file.
public enum CheckpointSection: String, CaseIterable, Codable, Sendable {
    case state
    case g, d
    case gEMA = "g_ema"
    case adamGeneratorM = "adam_g_m"
    case adamGeneratorV = "adam_g_v"
    case adamDiscriminatorM = "adam_d_m"
    case adamDiscriminatorV = "adam_d_v"

    /// The section whose tensor-table entries describe this one's layout: Adam's moments lie as the
    /// weights they belong to.
    public var tableSection: CheckpointSection? {
        switch self {
        case .state: nil
        case .g, .adamGeneratorM, .adamGeneratorV: .g
        case .d, .adamDiscriminatorM, .adamDiscriminatorV: .d
        case .gEMA: .gEMA
        }
    }
}

/// Everything about a run except its float buffers.
public struct TrainingState: Codable, Equatable {
    public var config: TrainingConfig
    /// CRC32 of the configuration's JSON, for telling runs apart at a glance.
    public var configHash: String
    /// Optimizer steps taken (one D and one G update each).
    public var step: Int
    public var imagesShown: Int
    /// Global index of the next sample in the seeded per-epoch order: independent of the number of ranks.
    public var dataPosition: Int
    /// Resolution and phase of the last step, to tell when a block is added or finishes fading in.
    public var resolution: Int
    public var phase: Phase
    public var adamGeneratorStep: Int
    public var adamDiscriminatorStep: Int
    /// Every random draw is a Philox stream derived from (seed, step, purpose), so the seed and the step
    /// are the whole random state; named here so a reader of the file knows.
    public var randomScheme: String
    /// Named tensors: which buffer section, where, and what shape.
    public var tensors: [TensorEntry]
    /// The dataset trained on (absent in checkpoints from before dataset format 2, and in imported ones).
    public var dataset: DatasetRecord? = nil

    /// A dataset's file name and identity (PreparedDataset.identity), so a resume on another dataset is refused.
    public struct DatasetRecord: Codable, Equatable {
        public let name: String
        public let identity: String
    }

    public struct TensorEntry: Codable, Equatable {
        public let section: CheckpointSection
        public let name: String
        public let shape: [Int]
        public let offset: Int
    }
}

/// A run's state and float buffers, stored as a `CheckpointFile` (whose checks cover the framing);
/// this type checks what the sections mean: the state decodes, each buffer is a known section, and every
/// tensor of the table lies inside its buffer.
public struct Checkpoint: FileFormat {
    public var state: TrainingState
    public var buffers: [CheckpointSection: [Float]]

    public init(state: TrainingState, buffers: [CheckpointSection: [Float]]) {
        precondition(buffers[.state] == nil, "the state section is not a float buffer")
        self.state = state
        self.buffers = buffers
    }

    /// The state first, then the buffers in the order of their names.
    public var file: CheckpointFile {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let state = CheckpointFile.Section(
            name: CheckpointSection.state.rawValue, payload: Array(try! encoder.encode(state)))
        let buffers = buffers.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            CheckpointFile.Section(name: $0.key.rawValue, floats: $0.value)
        }
        return CheckpointFile(sections: [state] + buffers)
    }

    public static let fileKind = CheckpointFile.fileKind

    public func serialized() -> [UInt8] { file.serialized() }

    public static func parse(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        try Checkpoint(CheckpointFile.parse(bytes, path: path), path: path)
    }

    public init(_ file: CheckpointFile, path: String) throws {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: path, problem: problem) }
        guard let stateSection = file[CheckpointSection.state.rawValue] else { throw fail("no state section") }
        state = try TrainingState(stateSection, path: path)
        buffers = [:]
        for section in file.sections where section.name != CheckpointSection.state.rawValue {
            guard let name = CheckpointSection(rawValue: section.name) else {
                throw fail("unknown section '\(section.name)'")
            }
            buffers[name] = try section.floats(path: path)
        }
        for entry in state.tensors {
            guard let buffer = buffers[entry.section], let count = checkedElementCount(entry.shape), entry.offset >= 0,
                entry.offset <= buffer.count, count <= buffer.count - entry.offset
            else {
                throw fail("tensor '\(entry.name)' lies outside section '\(entry.section.rawValue)'")
            }
        }
    }
}

extension TrainingState {
    /// The JSON of a checkpoint's state section.
    public init(_ section: CheckpointFile.Section, path: String) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            let payload = TrainingConfig.upgradingLegacyKeys(Data(section.payload), under: "config")
            self = try decoder.decode(TrainingState.self, from: payload)
        } catch {
            throw CheckpointError(path: path, problem: "unreadable state section (\(error))")
        }
    }
}

extension TrainingState {
    static let randomSchemeDescription = "philox4x32-10 substreams of (seed, step, purpose)"

    /// Where each network's parameters lie in the sections g, d and g_ema.
    static func tensorTable(_ network: NetworkConfig) -> [TensorEntry] {
        let sections = [
            (CheckpointSection.g, Generator(network).layout), (CheckpointSection.d, Discriminator(network).layout),
            (CheckpointSection.gEMA, Generator(network).layout),
        ]
        return sections.flatMap { section, layout in
            layout.parameters.map { TensorEntry(section: section, name: $0.name, shape: $0.shape, offset: $0.offset) }
        }
    }
}

extension Checkpoint {
    /// Networks trained elsewhere as the checkpoint of a run that has shown `imagesShown` images: step 0,
    /// fresh optimizer state, the schedule at the point those images imply.
    public init(
        startingFrom config: TrainingConfig, generator: [Float], averagedGenerator: [Float], discriminator: [Float],
        imagesShown: Int
    ) {
        let point = schedulePoint(
            imagesShown: imagesShown, config: config.schedule, finalResolution: config.network.resolution)
        let state = TrainingState(
            config: config, configHash: config.hash, step: 0, imagesShown: imagesShown, dataPosition: imagesShown,
            resolution: point.resolution, phase: point.phase, adamGeneratorStep: 0, adamDiscriminatorStep: 0,
            randomScheme: TrainingState.randomSchemeDescription, tensors: TrainingState.tensorTable(config.network))
        let generatorZeros = [Float](repeating: 0, count: generator.count),
            discriminatorZeros = [Float](repeating: 0, count: discriminator.count)
        self.init(
            state: state,
            buffers: [
                .g: generator, .d: discriminator, .gEMA: averagedGenerator,
                .adamGeneratorM: generatorZeros, .adamGeneratorV: generatorZeros,
                .adamDiscriminatorM: discriminatorZeros, .adamDiscriminatorV: discriminatorZeros,
            ])
    }
}

/// An unreadable or damaged checkpoint: one line naming the file and the problem.
public typealias CheckpointError = FileError
