// libFuzzer target for `progan train`'s settings flags (Sources/TrainingOptions): the input is an argument
// list (NUL-separated), parsed as the command parses its ConfigOptions and TrainingFlags, then resolved and
// validated as the command does before training, and encoded as config.json. Build and run:
// scripts/fuzz.sh flags SECONDS.
//
// `--config` is dropped with its value: what a file holds is the config target's to fuzz, and a path made
// up by the fuzzer could name a device or a FIFO.
import ArgumentParser
import FuzzSupport
import Training
import TrainingOptions

struct TrainSettings: ParsableArguments {
    @OptionGroup var options: ConfigOptions
    @OptionGroup var flags: TrainingFlags
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let words = UnsafeBufferPointer(start: data, count: size).split(separator: 0, omittingEmptySubsequences: false)
    var arguments = words.map { String(decoding: $0, as: UTF8.self) }
    while let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) {
        arguments.removeSubrange(index..<min(index + (arguments[index] == "--config" ? 2 : 1), arguments.count))
    }
    do {
        let settings = try TrainSettings.parse(arguments)
        let config = try settings.options.resolved(settings.flags.overrides)
        try config.validate(worldSize: 1)
        try config.requireMemory(ranks: 1)
        _ = try config.encoded()
        fuzzVerbose("valid: \(arguments)")
    } catch {
        fuzzVerbose("\(arguments): \(error)")
    }
    return 0
}
