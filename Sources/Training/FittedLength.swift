import Model

extension TrainingConfig {
    /// This configuration with its length set to the whole kimg (at least one) that train in about `seconds`
    /// on this machine and layout, at the costs `probe` timed there, as `RemainingTime` models a run (tick
    /// ends measuring quality and `endOfRunSeconds` of final FID/KID included; resolutions the probe left out
    /// extrapolated from those it timed). The probe's costs are taken as `probeOptimism` times too low: they
    /// are medians of a few seconds of steps, and a long run's average on a shared machine is slower.
    ///
    /// A learning-rate ramp-down that ends with the run (the `cpu` preset's) is stretched to end with the
    /// new length, starting at the same fraction of it: the ramp is what lets the weights settle at the end,
    /// and a run twice as long would otherwise spend its second half at the final rate.
    public func fitted(
        toSeconds seconds: Double, probe: CostProbe, cores: Int, endOfRunSeconds: Double = 0
    ) -> TrainingConfig {
        let kimg = longestFitting(from: 1) { kimg in
            let predicted = withLength(kimg: Double(kimg))
                .secondsAtProbePace(probe, cores: cores, endOfRunSeconds: endOfRunSeconds)
            return (predicted ?? .infinity) * Self.probeOptimism <= seconds
        }
        return withLength(kimg: Double(kimg))
    }

    /// During a run: the whole kimg (past the tick in progress) whose images the run shows in about `seconds`
    /// from `imagesShown` on, at the pace `history` measured (`RemainingTime`'s model with `probe`); nil
    /// before anything was measured. The ramp-down stays as it is: it is part of the recipe.
    public func refittedKimg(
        imagesShown: Int, history: ThroughputHistory, probe: CostProbe, cores: Int, endOfRunSeconds: Double,
        seconds: Double
    ) -> Double? {
        func secondsLeft(_ kimg: Int) -> Double? {
            RemainingTime(
                config: with { $0.totalKimg = Double(kimg) }, cores: cores, probe: probe,
                endOfRunSeconds: endOfRunSeconds
            ).secondsLeft(imagesShown: imagesShown, history: history)
        }
        let shortest = imagesShown / 1000 + 1
        guard secondsLeft(shortest) != nil else { return nil }
        return Double(longestFitting(from: shortest) { secondsLeft($0)! <= seconds })
    }

    /// The seconds this run takes from its start if it trains at the pace `probe` timed (what the ETA
    /// says before the first tick); nil when the probe timed nothing.
    public func secondsAtProbePace(_ probe: CostProbe, cores: Int, endOfRunSeconds: Double = 0) -> Double? {
        // The probe's figures stand in for measurements.
        var history = ThroughputHistory()
        for (resolution, perImage) in probe.secondsPerImage {
            history.add(resolution: resolution, images: 1000, seconds: 1000 * perImage)
        }
        return RemainingTime(config: self, cores: cores, probe: probe, endOfRunSeconds: endOfRunSeconds)
            .secondsLeft(imagesShown: 0, history: history)
    }

    /// How much slower than its probe a run trains on average, as measured on this project's 2-core
    /// machines (2026-12-03, the `cpu` preset at 32x32, 1 rank x 2 threads): probe 4.04 ms per image against
    /// 4.92 over a whole 85-kimg run, 4.10 against 5.44 over 196 kimg, and a 30-kimg run at 4.76 whose
    /// ticks went from 3.9 to 6.0 ms, minute by minute. Their images per second wander by a third over
    /// minutes, and the probe's few seconds have tended to fall in a fast stretch.
    public static let probeOptimism = 1.2

    /// This configuration trained for `kimg`, with a ramp-down that ends with the run stretched to match.
    func withLength(kimg: Double) -> TrainingConfig {
        with { config in
            if var ramp = config.schedule.learningRateRampdown, ramp.endKimg == config.totalKimg {
                // Tenths of a kimg, so that config.json shows a round number.
                ramp.startKimg = (ramp.startKimg * kimg / config.totalKimg * 10).rounded() / 10
                ramp.endKimg = kimg
                config.schedule.learningRateRampdown = ramp
            }
            config.totalKimg = kimg
        }
    }
}

/// The longest whole kimg from `shortest` up to the configurable limit that `fits`, or `shortest` when none
/// does. The time a run takes grows with its length, so bisection finds it.
private func longestFitting(from shortest: Int, _ fits: (Int) -> Bool) -> Int {
    var (fitting, tooLong) = (shortest, Int(ConfigLimits.kimg) + 1)
    while tooLong - fitting > 1 {
        let middle = fitting + (tooLong - fitting) / 2
        if fits(middle) { fitting = middle } else { tooLong = middle }
    }
    return fitting
}
