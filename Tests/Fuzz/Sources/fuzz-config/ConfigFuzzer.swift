// libFuzzer target for config.json (Sources/Training/ConfigFile.swift): the input is laid over every preset as
// `--config` lays a file, then validated as `progan train` validates it, then encoded back as config.json is
// written and read again. A thrown error is the right answer to a bad file; a trap is a finding. Build and
// run: scripts/fuzz.sh config SECONDS.
import Foundation
import FuzzSupport
import Model
import Training

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let json = Data(bytes: data, count: size)
    for preset in Preset.allCases {
        do {
            let config = try preset.config.overlaid(withJSON: json, source: "fuzz.json")
            try config.validate(worldSize: 1)
            _ = config.estimatedMemory(ranks: 2)
            let written = try config.encoded()
            let reread = try TrainingConfig.decode(written)
            guard reread == config else { fatalError("config.json does not read back as written: \(config)") }
            exerciseSchedule(config)
            fuzzVerbose("valid over \(preset.rawValue): \(config.hash)")
        } catch {
            fuzzVerbose("\(preset.rawValue): \(error)")
        }
    }
    return 0
}

/// What a run computes from a configuration before its first step: the run's length, the schedule at its
/// boundaries, the ETA's spans.
func exerciseSchedule(_ config: TrainingConfig) {
    let final = config.network.resolution
    for (start, _) in resolutionStarts(config: config.schedule, finalResolution: final) {
        for images in [start, max(start - 1, 0), config.totalImages] {
            _ = schedulePoint(imagesShown: images, config: config.schedule, finalResolution: final)
        }
    }
    for resolution in config.network.resolutions {
        _ = imagesShown(atResolution: resolution, alpha: 0.5, config: config.schedule)
    }
}
