import Model

extension TrainingConfig {
    /// This configuration with its length set to the whole kimg (at least one) that train in about `seconds`
    /// on this machine and layout, at the costs `probe` timed there, as `RemainingTime` models a run (tick
    /// ends measuring quality and `endOfRunSeconds` of final FID/KID included; resolutions the probe left out
    /// extrapolated from those it timed).
    ///
    /// A learning-rate ramp-down that ends with the run (the `cpu` preset's) is stretched to end with the
    /// new length, starting at the same fraction of it: the ramp is what lets the weights settle at the end,
    /// and a run twice as long would otherwise spend its second half at the final rate.
    public func fitted(
        toSeconds seconds: Double, probe: CostProbe, cores: Int, endOfRunSeconds: Double = 0
    ) -> TrainingConfig {
        // The probe's figures stand in for measurements, so the model runs at exactly the probe's pace.
        var history = ThroughputHistory()
        for (resolution, perImage) in probe.secondsPerImage {
            history.add(resolution: resolution, images: 1000, seconds: 1000 * perImage)
        }
        func length(_ kimg: Int) -> TrainingConfig { withLength(kimg: Double(kimg)) }
        func fits(_ kimg: Int) -> Bool {
            let predicted = RemainingTime(
                config: length(kimg), cores: cores, probe: probe, endOfRunSeconds: endOfRunSeconds)
                .secondsLeft(imagesShown: 0, history: history)
            return (predicted ?? .infinity) <= seconds
        }
        // The time grows with the length, so the longest that fits is found by bisection.
        var (fitting, tooLong) = (1, Int(ConfigLimits.kimg) + 1)
        while tooLong - fitting > 1 {
            let middle = fitting + (tooLong - fitting) / 2
            if fits(middle) { fitting = middle } else { tooLong = middle }
        }
        return length(fitting)
    }

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
