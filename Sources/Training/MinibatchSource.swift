import Dataset
import Engine
import Model

/// Which real images each step sees.
///
/// Samples are numbered globally: sample i of a step is the image at data position `position + i` of
/// the seeded per-epoch order. Which of them a rank computes, in which micro-batches, is the phase's
/// `PhaseLayout`; every random draw is indexed by global sample, so a micro-batch gives the same
/// gradient on whichever rank computes it.
struct MinibatchSource {
    let dataset: PreparedDataset
    let random: RandomStreams
    let mirror: Bool
    let channels: Int
    private var epochOrder: (epoch: Int, order: [Int]) = (-1, [])

    init(dataset: PreparedDataset, recipe: TrainingRecipe, random: RandomStreams) {
        self.dataset = dataset
        self.random = random
        mirror = recipe.mirror
        channels = recipe.network.imageChannels
    }

    /// Dataset index of the sample at global position `position` of the seeded epoch order.
    mutating func datasetIndex(_ position: Int) -> Int {
        let epoch = position / dataset.count
        if epochOrder.epoch != epoch { epochOrder = (epoch, random.epochOrder(epoch, count: dataset.count)) }
        return epochOrder.order[position % dataset.count]
    }

    /// Class labels of global samples `samples` of the step that starts at data position `position`: those
    /// of the images `reals` gives for them, from `labels`, the dataset's labels in dataset order.
    mutating func labels(_ samples: Range<Int>, position: Int, from labels: [Int]) -> [Int] {
        samples.map { labels[datasetIndex(position + $0)] }
    }

    /// Real images of global samples `samples` of the step that starts at data position `position`,
    /// cross-faded during a fade-in the way G's output is (official train.py `process_reals`): a blend of
    /// the image and its downsampled-then-upsampled copy.
    mutating func reals(_ samples: Range<Int>, position: Int, step: Int, at point: SchedulePoint) throws -> Tensor {
        let indices = samples.map { datasetIndex(position + $0) }
        let flips = mirror ? random.uniforms(.mirrorFlips, step: step, samples: samples).scalars.map { $0 < 0.5 } : nil
        let size = point.resolution
        let images = Tensor(zeros: [samples.count, channels, size, size])
        try dataset.fillBatch(indices: indices, resolution: size, mirror: flips, into: images.pointer)
        return point.alpha < 1 ? fadeTowardCoarse(images, alpha: point.alpha) : images
    }
}
