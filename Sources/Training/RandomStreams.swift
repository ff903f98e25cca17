import Engine

/// Every random draw of a run, as a pure function of (seed, what it is for, step, global sample index).
///
/// Each purpose and step has its own Philox stream, and sample j's draws start at a fixed position in
/// it, so the numbers a sample gets do not depend on which rank computes it or how many ranks there
/// are, and a resumed run needs no generator state beyond the seed and the step.
public struct RandomStreams {
    public let seed: UInt64

    public enum Purpose: UInt64 {
        case discriminatorLatents = 0
        case generatorLatents, penaltyWeights, mirrorFlips
        /// The classes of G's fakes in a conditional run: dataset images picked at random.
        case generatorLabels
    }

    public init(seed: UInt64) { self.seed = seed }

    private func stream(_ purpose: Purpose, step: Int) -> PhiloxRandom {
        PhiloxRandom(seed: seed).substream(UInt64(step) << 3 | purpose.rawValue)
    }

    /// Standard normal rows [samples.count, width] for global samples `samples` of `step`.
    public func normals(_ purpose: Purpose, step: Int, samples: Range<Int>, width: Int) -> Tensor {
        var random = stream(purpose, step: step)
        // Box–Muller uses two words per pair of values.
        let wordsPerSample = UInt64((width + 1) / 2 * 2)
        let out = Tensor(zeros: [samples.count, width])
        for (row, sample) in samples.enumerated() {
            random.position = UInt64(sample) * wordsPerSample
            random.fillNormal(UnsafeMutableBufferPointer(start: out.pointer + row * width, count: width))
        }
        return out
    }

    /// One U[0, 1) value per global sample in `samples` of `step`.
    public func uniforms(_ purpose: Purpose, step: Int, samples: Range<Int>) -> Tensor {
        var random = stream(purpose, step: step)
        let out = Tensor(zeros: [samples.count])
        for (row, sample) in samples.enumerated() {
            random.position = UInt64(sample)
            out.pointer[row] = random.uniform()
        }
        return out
    }

    /// The order in which epoch `epoch` visits the dataset's `count` images.
    public func epochOrder(_ epoch: Int, count: Int) -> [Int] {
        var random = PhiloxRandom(seed: seed).substream(1 << 63 | UInt64(epoch))
        return random.permutation(count)
    }

    /// The fixed latents of the sample grids.
    public func gridLatents(count: Int, width: Int) -> Tensor {
        var random = PhiloxRandom(seed: seed).substream(1 << 62)
        return random.normal(shape: [count, width])
    }
}
