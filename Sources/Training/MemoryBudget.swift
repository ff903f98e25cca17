import Glibc
import Metrics
import Model

/// What a command may allocate: the machine's physical memory, and rough needs of what the commands
/// allocate besides training (whose per-rank need is `memoryPerRank`, ResourcePlan.swift), computed in
/// floating point so that absurd sizes cannot overflow. A command compares its need with the machine's
/// memory before allocating, so that a size too large for the machine is a one-line error saying how much
/// it would take, not a failed allocation.
public enum MemoryBudget {
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

    /// Writing `count` images at `resolution` (the final one if nil) from `network`'s generator in one
    /// batch (generate, export's reference images, sample grids): latents and every layer's output.
    public static func generation(_ network: NetworkConfig, resolution: Int? = nil, count: Int) -> Double {
        let resolution = resolution ?? network.resolution
        let perImage = Double(network.latent) + NetworkCosts(network).activations(at: resolution)
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
    /// Fails when a run on `ranks` ranks would need more memory on a rank than this machine has: checked
    /// where a run starts, not by `validate`, since a configuration may be meant for bigger machines.
    /// `trainers` counts whole trainers held at once by each rank (a benchmark may pair two).
    public func requireMemory(ranks: Int, threads: Int = 1, trainers: Int = 1) throws {
        guard let bytes = estimatedMemory(ranks: ranks, threads: threads) else { return }
        try MemoryBudget.require(
            bytes * Double(trainers),
            for: "training this network (fmap_base, fmap_max, latent_size, resolution, minibatch, grid_samples, "
                + "swd_images) on \(ranks) rank\(ranks == 1 ? "" : "s")"
                + (trainers == 1 ? "" : ", \(trainers) trainers per rank"))
    }

    /// What a run on `ranks` ranks needs on each: its largest phase's `memoryPerRank`, a sample grid and,
    /// when measured, the SWD descriptors. Nil when the phases do not divide among the ranks.
    public func estimatedMemory(ranks: Int, threads: Int = 1) -> Double? {
        guard let layouts = try? phaseLayouts(ranks: ranks) else { return nil }
        let costs = NetworkCosts(recipe.network)
        let training = layouts.map { memoryPerRank($0, threads: threads, costs: costs).total }.max() ?? 0
        let grid = MemoryBudget.generation(recipe.network, count: run.gridSamples)
        let metrics =
            run.swdTicks > 0
            ? MemoryBudget.metricDescriptors(images: run.swdImages, sets: 2, resolution: recipe.network.resolution)
            : 0
        return training + grid + metrics
    }
}
