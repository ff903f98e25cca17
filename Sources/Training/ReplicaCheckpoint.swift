import Engine
import Foundation
import Model

extension Trainer {
    /// The replica and counters as a checkpoint of this run.
    public func checkpoint() -> Checkpoint {
        let replica = self.replica, progress = replica.progress
        let state = TrainingState(
            config: config.layoutFree, configHash: config.hash, step: progress.step, imagesShown: progress.imagesShown,
            dataPosition: progress.dataPosition, resolution: progress.resolution, phase: progress.phase,
            adamGeneratorStep: replica.generatorOptimizer.step,
            adamDiscriminatorStep: replica.discriminatorOptimizer.step,
            randomScheme: TrainingState.randomSchemeDescription, tensors: TrainingState.tensorTable(config.network),
            dataset: .init(name: (dataset.path as NSString).lastPathComponent, identity: dataset.identity))
        var buffers: [CheckpointSection: [Float]] = [:]
        for (section, buffer) in replica.buffers {
            buffers[section] = Array(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count))
        }
        return Checkpoint(state: state, buffers: buffers)
    }

    /// Continues from `checkpoint`, which must come from a run with the same recipe; the refusal names
    /// every setting that differs.
    public func restore(_ checkpoint: Checkpoint, path: String) throws {
        let written = checkpoint.state.config
        guard config.canResume(from: written) else {
            throw CheckpointError(
                path: path,
                problem: "written by a run with a different recipe ("
                    + config.recipeDifferences(from: written).joined(separator: "; ")
                    + "); only the run settings (total_kimg, ticks, grids, checkpoints, SWD) may change on resume")
        }
        if let recorded = checkpoint.state.dataset, recorded.identity != dataset.identity {
            throw CheckpointError(
                path: path,
                problem: "trained on dataset \(recorded.name) (identity \(recorded.identity)), but --dataset "
                    + "\(dataset.path) is another one (identity \(dataset.identity)); resume with the same dataset")
        }
        for (section, buffer) in replica.buffers {
            guard let values = checkpoint.buffers[section], values.count == buffer.count else {
                throw CheckpointError(
                    path: path,
                    problem: "section '\(section.rawValue)' is missing or has the "
                        + "wrong size")
            }
            values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
        let state = checkpoint.state
        replica.generatorOptimizer.restore(step: state.adamGeneratorStep)
        replica.discriminatorOptimizer.restore(step: state.adamDiscriminatorStep)
        replica.progress = Progress(
            step: state.step, imagesShown: state.imagesShown, dataPosition: state.dataPosition,
            resolution: state.resolution, phase: state.phase)
    }
}
