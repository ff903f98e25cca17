import Glibc
import Metrics
import Model

/// Rough memory needs of what the commands allocate, computed in floating point so that absurd sizes
/// cannot overflow. A command compares its need with the machine's memory before allocating, so that a
/// size too large for the machine is a one-line error saying how much it would take, not a failed
/// allocation. The estimates err low: they refuse what cannot fit, never what might.
public enum MemoryEstimate {
    static let bytesPerFloat = 4.0

    /// Bytes of physical memory, or nil where the system does not say.
    public static var physicalBytes: Double? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return nil }
        return Double(pages) * Double(pageSize)
    }

    /// Fails when `bytes` exceed the machine's memory; the error names `what` and both amounts.
    public static func require(_ bytes: Double, for what: String) throws {
        guard let available = physicalBytes, bytes > available else { return }
        throw ConfigError(
            message: "\(what) would need about \(gibibytes(bytes)) of memory, more than this machine's "
                + "\(gibibytes(available))")
    }

    static func gibibytes(_ bytes: Double) -> String {
        let value = bytes / Double(1 << 30)
        return value < 1e6 ? String(format: "%.1f GiB", value) : String(format: "%.2g GiB", value)
    }

    /// Parameters of one network (G or D): two 3x3 convolutions per block and the latent's dense layer.
    static func parameters(_ network: NetworkConfig) -> Double {
        let widths = stages(network).map { Double(network.features(stage: $0)) }
        return widths.reduce(0) { $0 + 18 * $1 * $1 } + 16 * Double(network.latent) * (widths.first ?? 1)
    }

    /// Floats of one image's largest feature maps at `resolution`: a layer's input and output.
    static func largestActivation(_ network: NetworkConfig, resolution: Int) -> Double {
        stages(network).filter { 4 << $0 <= resolution }.map { stage in
            Double(4 << stage) * Double(4 << stage) * Double(network.features(stage: stage))
        }.max() ?? 0
    }

    /// Floats of one image's feature maps at every layer up to `resolution`, which the backward pass keeps.
    static func allActivations(_ network: NetworkConfig, resolution: Int) -> Double {
        stages(network).filter { 4 << $0 <= resolution }.reduce(0) { sum, stage in
            sum + Double(4 << stage) * Double(4 << stage) * Double(network.features(stage: stage))
        }
    }

    private static func stages(_ network: NetworkConfig) -> ClosedRange<Int> {
        0...max(network.resolutionLog2 - 2, 0)
    }

    /// Writing `count` images at `resolution` (the final one if nil) from `network`'s generator in one
    /// batch (generate, sample grids).
    public static func generation(_ network: NetworkConfig, resolution: Int? = nil, count: Int) -> Double {
        let resolution = resolution ?? network.resolution
        let perImage = Double(network.latent) + 2 * largestActivation(network, resolution: resolution)
        return Double(count) * perImage * bytesPerFloat
    }

    /// The SWD descriptors of `sets` sets of `images` images at `resolution` (evaluate, in-training SWD).
    public static func metricDescriptors(images: Int, sets: Int, resolution: Int) -> Double {
        let levels = Double(SlicedWasserstein(resolution: max(resolution, 16), seed: 0).levels.count)
        let perImage = Double(SlicedWasserstein.patchesPerImage * SlicedWasserstein.descriptorLength) * levels
        return Double(images) * Double(sets) * perImage * bytesPerFloat
    }

    /// The widest picture a command is asked to write (the PNG reader's limit per side).
    public static let pictureSideLimit = 1 << 14

    /// One picture of `width` x `height` pixels, as floats and as the bytes written out.
    public static func picture(width: Int, height: Int) -> Double {
        Double(width) * Double(height) * 3 * (bytesPerFloat + 1)
    }
}

extension TrainingConfig {
    /// What a run on `worldSize` ranks needs on each: G, D, G's average, their gradients and Adam's
    /// moments; the activations of the largest micro-batch at each resolution, kept for the backward
    /// pass of D and its gradient penalty; a sample grid; and the SWD descriptors.
    public func estimatedMemory(worldSize: Int) -> Double {
        let network = recipe.network
        let weights = 9 * MemoryEstimate.parameters(network)
        let activations =
            network.resolutions.map { resolution in
                let perRank = recipe.schedule.minibatch(at: resolution) / max(worldSize, 1)
                return Double(microbatchSize(perRank: perRank)) * 4
                    * MemoryEstimate.allActivations(network, resolution: resolution)
            }.max() ?? 0
        let grid = MemoryEstimate.generation(network, count: run.gridSamples)
        let metrics =
            run.swdTicks > 0
            ? MemoryEstimate.metricDescriptors(images: run.swdImages, sets: 2, resolution: network.resolution) : 0
        return (weights + activations) * MemoryEstimate.bytesPerFloat + grid + metrics
    }
}
