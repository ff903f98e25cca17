import ArgumentParser
import Engine

struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "3x3 convolution GFLOP/s, im2col and Winograd paths, against bare sgemm of the im2col GEMM shapes.",
        discussion: """
            The baseline runs the conv's GEMMs over the whole batch as sgemm calls (in the same fixed \
            panels over the engine's threads as the conv's own GEMMs) with no im2col, col2im or staging: \
            what the conv would reach if data movement were free. FLOPs are those of \
            a direct convolution (2·N·O·C·k²·H·W per pass); forward+backward counts three passes.
            """)

    @Option(help: ArgumentHelp("Images per convolution call.", valueName: "n")) var batch = 16
    @Option(
        parsing: .upToNextOption, help: ArgumentHelp("Engine thread counts to measure, each a row.", valueName: "n"))
    var threads: [Int] = [1, 2]
    @Option(help: ArgumentHelp("Timed repetitions per figure (the median is reported).", valueName: "n"))
    var repetitions = 5
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Layers as CHANNELSxSIDE (input = output channels, square images), e.g. 256x32.",
            valueName: "layer"))
    var layers: [String] = ["512x4", "512x8", "512x16", "256x32", "128x64"]

    func validate() throws {
        guard batch > 0, repetitions > 0, threads.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--batch, --repetitions and --threads must be positive")
        }
        for layer in layers where Self.parse(layer) == nil {
            throw ValidationError("--layers: '\(layer)' is not CHANNELSxSIDE with positive numbers")
        }
    }

    static func parse(_ layer: String) -> (channels: Int, size: Int)? {
        let parts = layer.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { return nil }
        return (parts[0], parts[1])
    }

    func run() {
        print(
            "conv 3x3, padding 1, batch \(batch), float32; "
                + "GFLOP/s = direct-conv FLOPs (2·N·O·C·9·H·W per pass) / median time; "
                + "OpenBLAS kernels \(blasKernels)"
        )
        let geometries = layers.map { layer -> ConvGeometry in
            let (channels, size) = Self.parse(layer)!
            return ConvGeometry(
                batch: batch, inChannels: channels, height: size, width: size,
                outChannels: channels, kernel: 3, padding: 1)
        }
        // Our conv first, so the peak RSS it reports is not inflated by the baseline's full-batch matrices.
        var ours: [[[ConvAlgorithm: Rates]]] = []
        for threadCount in threads {
            ThreadPool.threads = threadCount
            ours.append(
                geometries.map { g in
                    Dictionary(
                        uniqueKeysWithValues: ConvAlgorithm.allCases.map { algorithm in
                            (algorithm, ConvAlgorithm.forcing(algorithm) { measureConv(g) })
                        })
                })
        }
        let convPeak = TensorMemory.peakResidentMiB
        print(
            "layer      thr |  forward: im2col winograd  sgemm | fwd+bwd: im2col winograd  sgemm | "
                + "winograd/im2col  model picks"
        )
        for (threadIndex, threadCount) in threads.enumerated() {
            ThreadPool.threads = threadCount
            for (g, conv) in zip(geometries, ours[threadIndex]) {
                let baseline = measureGEMM(g)
                let (im2col, winograd) = (conv[.im2col]!, conv[.winograd]!)
                let name = "\(g.inChannels)ch \(g.height)x\(g.width)".padding(toLength: 11, withPad: " ", startingAt: 0)
                let ratio = (formatted(winograd.training / im2col.training, 2) + "x").leftPadded(15)
                print(
                    "\(name)\(String(threadCount).leftPadded(3)) | \(formatted(im2col.forward).leftPadded(14)) "
                        + "\(formatted(winograd.forward).leftPadded(8)) \(formatted(baseline.forward).leftPadded(6)) | "
                        + "\(formatted(im2col.training).leftPadded(14)) \(formatted(winograd.training).leftPadded(8)) "
                        + "\(formatted(baseline.training).leftPadded(6)) | \(ratio)  "
                        + g.algorithm.rawValue)
            }
        }
        print(
            "peak RSS of the conv runs \(formatted(convPeak)) MiB (workspaces bounded: im2col "
                + "\(formatted(Double(ConvGeometry.workspaceFloats * 4) / 1_048_576)) MiB or one sample, Winograd "
                + "\(formatted(Double(WinogradPlan.workspaceFloats * 4) / 1_048_576)) MiB or 64 tiles, per buffer); "
                + "with the baseline's matrices \(formatted(TensorMemory.peakResidentMiB)) MiB")
    }

    typealias Rates = (forward: Double, training: Double)

    /// GFLOP/s of our forward and forward+backward kernels.
    private func measureConv(_ g: ConvGeometry) -> Rates {
        var rng = PhiloxRandom(seed: 1)
        let x = rng.normal(shape: [g.batch, g.inChannels, g.height, g.width])
        let w = rng.normal(shape: [g.outChannels, g.inChannels, 3, 3])
        let y = Tensor(zeros: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        let dy = rng.normal(shape: y.shape), dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape)
        let forward = medianSeconds(repetitions: repetitions) {
            convForwardKernel(input: x.pointer, filter: w.pointer, output: y.pointer, g)
        }
        let training = medianSeconds(repetitions: repetitions) {
            convForwardKernel(input: x.pointer, filter: w.pointer, output: y.pointer, g)
            convBackwardDataKernel(outputGradient: dy.pointer, filter: w.pointer, inputGradient: dx.pointer, g)
            convBackwardFilterKernel(input: x.pointer, outputGradient: dy.pointer, filterGradient: dw.pointer, g)
        }
        let gflop = g.forwardFLOPs / 1e9
        return (gflop / forward, 3 * gflop / training)
    }

    /// GFLOP/s of the same three GEMMs over the whole batch at once, on ready-made matrices.
    private func measureGEMM(_ g: ConvGeometry) -> Rates {
        var rng = PhiloxRandom(seed: 2)
        let patch = g.inChannels * 9, columns = g.batch * g.outHeight * g.outWidth
        let filter = rng.normal(shape: [g.outChannels, patch]), filterGradient = Tensor(zeros: filter.shape)
        let patches = rng.normal(shape: [patch, columns]), outputs = rng.normal(shape: [g.outChannels, columns])
        let forwardGEMM = {
            panelGemm(
                transposeA: false, transposeB: false, m: g.outChannels, n: columns, k: patch, a: filter.pointer,
                lda: patch,
                b: patches.pointer, ldb: columns, c: outputs.pointer, ldc: columns, accumulate: false)
        }
        let forward = medianSeconds(repetitions: repetitions, forwardGEMM)
        let training = medianSeconds(repetitions: repetitions) {
            forwardGEMM()
            panelGemm(
                transposeA: true, transposeB: false, m: patch, n: columns, k: g.outChannels, a: filter.pointer,
                lda: patch,
                b: outputs.pointer, ldb: columns, c: patches.pointer, ldc: columns, accumulate: false)
            panelGemm(
                transposeA: false, transposeB: true, m: g.outChannels, n: patch, k: columns, a: outputs.pointer,
                lda: columns,
                b: patches.pointer, ldb: columns, c: filterGradient.pointer, ldc: patch, accumulate: false)
        }
        let gflop = g.forwardFLOPs / 1e9
        return (gflop / forward, 3 * gflop / training)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
