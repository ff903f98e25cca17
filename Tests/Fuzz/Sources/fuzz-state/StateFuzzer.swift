// libFuzzer target for a checkpoint's state (TrainingState in Sources/Training/Checkpoint.swift), structure-
// aware: the input is the state section's JSON, put into a well-formed checkpoint container with valid
// checksums and small float buffers, so that every input reaches the state's decoding and range checks
// rather than dying at the container's CRC. A checkpoint that reads is then used as `generate` would use it
// and written back. Build and run: scripts/fuzz.sh state SECONDS.
import CheckpointFile
import Foundation
import FuzzSupport
import Training

/// The most floats a buffer section gets: the seed's network (fmap 2, latent 2) has about 50 per network.
private let bufferLimit = 4096

/// Floats per buffer section: as many as the state's tensor table says the section holds (up to the limit),
/// so that a state describing a small network reaches `TrainedGenerator` with buffers of the right size.
private func bufferSizes(_ json: Data) -> [String: Int] {
    let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any]
    var sizes: [String: Int] = [:]
    for case let entry as [String: Any] in object?["tensors"] as? [Any] ?? [] {
        guard let section = entry["section"] as? String, let offset = entry["offset"] as? Int,
            let shape = entry["shape"] as? [Int], (0...bufferLimit).contains(offset),
            shape.allSatisfy({ (0...bufferLimit).contains($0) })
        else { continue }
        let end = shape.reduce(1) { min($0 * $1, bufferLimit) } + offset
        sizes[section] = min(max(sizes[section] ?? 0, end), bufferLimit)
    }
    return sizes
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let json = Data(bytes: data, count: size)
    let state = CheckpointFile.Section(name: "state", payload: Array(json))
    let sizes = bufferSizes(json)
    let buffers = CheckpointSection.allCases.filter { $0 != .state }.map {
        let table = $0.tableSection?.rawValue ?? $0.rawValue
        return CheckpointFile.Section(name: $0.rawValue, floats: [Float](repeating: 0.5, count: sizes[table] ?? 64))
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
