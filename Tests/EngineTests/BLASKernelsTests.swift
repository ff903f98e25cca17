import Foundation
import XCTest

@testable import Engine

/// OpenBLAS's GEMMs run on kernels as wide as the CPU's features allow, even where OpenBLAS does not
/// know the CPU's model (a newer CPU, or a virtual machine's generic one, where it falls back to SSE3).
final class BLASKernelsTests: XCTestCase {
    func testKernelsMatchTheCPUsWidestVectors() throws {
        #if arch(x86_64)
            guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
                throw XCTSkip("OPENBLAS_CORETYPE chooses the kernels by hand")
            }
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let flagsLine = try XCTUnwrap(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
            let flags = Set(flagsLine.split(separator: " ").map(String.init))
            let core = blasKernels.split(separator: " ").first.map(String.init) ?? ""
            if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) {
                XCTAssert(["SkylakeX", "Cooperlake", "SapphireRapids"].contains(core), "AVX-512 CPU, kernels \(core)")
            } else if flags.isSuperset(of: ["avx2", "fma"]) {
                XCTAssert(
                    ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"].contains(core),
                    "AVX2 CPU, kernels \(core)")
            }
        #else
            throw XCTSkip("the kernels are chosen by feature only on x86-64")
        #endif
    }
}
