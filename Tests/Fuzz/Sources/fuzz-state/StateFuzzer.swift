// libFuzzer target for a checkpoint's state (TrainingState in Sources/Training/Checkpoint.swift), structure-
// aware: the input is the state section's JSON, put into a well-formed checkpoint container with valid
// checksums and small float buffers, so that every input reaches the state's decoding and range checks
// rather than dying at the container's CRC. A checkpoint that reads is then used as `generate` would use it
// and written back. Build and run: scripts/fuzz.sh state SECONDS.
import CheckpointFile
import FuzzSupport
import Training

/// Floats in each buffer section: enough for the seed's tiny network (fmap 2, latent 2).
private let bufferFloats = 4096

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let state = CheckpointFile.Section(name: "state", payload: Array(UnsafeBufferPointer(start: data, count: size)))
    let buffers = CheckpointSection.allCases.filter { $0 != .state }.map {
        CheckpointFile.Section(name: $0.rawValue, floats: [Float](repeating: 0.5, count: bufferFloats))
    }
    let bytes = CheckpointFile(sections: [state] + buffers).serialized()
    do {
        let checkpoint = try Checkpoint.parse(bytes, path: "fuzz.ckpt")
        _ = try? TrainedGenerator(checkpoint: checkpoint, path: "fuzz.ckpt")
        let rewritten = try checkpoint.serialized()
        let reread = try Checkpoint.parse(rewritten, path: "fuzz.ckpt")
        guard reread.state == checkpoint.state else { fatalError("the state does not read back as written") }
        fuzzVerbose("valid: step \(checkpoint.state.step)")
    } catch {
        fuzzVerbose("\(error)")
    }
    return 0
}
