import EngineTesting
import Foundation
import XCTest

@testable import Engine

/// Every threaded kernel gives the same bits at 1, 2, 3 and 7 threads (the engine's blocks are fixed by
/// the shapes), and what it gives is right (against the Double references). The shapes are large enough
/// that every kernel cuts its work into several blocks.
final class ThreadingTests: XCTestCase {
    static let threadCounts = [1, 2, 3, 7]

    private var threadsBefore = 1

    override func setUp() { threadsBefore = ThreadPool.threads }
    override func tearDown() { ThreadPool.threads = threadsBefore }

    /// The values `compute` returns at every thread count, checked to be bitwise equal; the 1-thread ones.
    @discardableResult
    private func sameBitsAtEveryThreadCount(
        _ label: String, file: StaticString = #filePath, line: UInt = #line, _ compute: () -> [Tensor]
    ) -> [Tensor] {
        var first: [[UInt32]] = []
        var firstTensors: [Tensor] = []
        for threads in Self.threadCounts {
            ThreadPool.threads = threads
            let tensors = compute()
            let bits = tensors.map { $0.scalars.map(\.bitPattern) }
            if first.isEmpty {
                (first, firstTensors) = (bits, tensors)
                continue
            }
            for (index, (expected, actual)) in zip(first, bits).enumerated() {
                let differing = zip(expected, actual).filter { $0 != $1 }.count
                XCTAssertEqual(
                    differing, 0, "\(label), output \(index): \(threads) threads differ from 1 in \(differing) values",
                    file: file, line: line)
            }
        }
        return firstTensors
    }

    func testPoolRunsEveryBlockOnceOnSeveralThreads() {
        ThreadPool.threads = 3
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 200)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        let lock = NSLock()
        var threadsSeen = Set<String>()
        parallelForEach(200) { block in
            counts[block] += 1
            let name = "\(pthread_self())"
            lock.withLock { _ = threadsSeen.insert(name) }
            usleep(200)
        }
        XCTAssertEqual(Array(counts), Array(repeating: 1, count: 200))
        XCTAssertGreaterThan(threadsSeen.count, 1, "3 threads, yet one ran every block")
        // A kernel inside a block runs its own blocks in order on that thread.
        var inner = 0
        parallelForEach(2) { block in
            if block == 0 { parallelForEach(50) { _ in lock.withLock { inner += 1 } } }
        }
        XCTAssertEqual(inner, 50)
    }

    func testConvKernelsOfBothAlgorithms() {
        // 16x16 and 32 channels: several Winograd tiles per channel block, and im2col GEMMs in panels.
        let (n, c, size, o) = (4, 32, 16, 48)
        let x = randomTensor([n, c, size, size], seed: 1), w = randomTensor([o, c, 3, 3], seed: 2)
        let dy = randomTensor([n, o, size, size], seed: 3), bias = randomTensor([o], seed: 4)
        let g = ConvGeometry(batch: n, inChannels: c, height: size, width: size, outChannels: o, kernel: 3, padding: 1)
        for algorithm in ConvAlgorithm.allCases {
            let results = ConvAlgorithm.forcing(algorithm) {
                sameBitsAtEveryThreadCount("\(algorithm)") {
                    let y = Tensor(uninitialized: dy.shape), dx = Tensor(uninitialized: x.shape)
                    let dw = Tensor(uninitialized: w.shape), fused = Tensor(uninitialized: dy.shape)
                    convForwardKernel(input: x.pointer, filter: w.pointer, output: y.pointer, g)
                    convForwardKernel(
                        input: x.pointer, filter: w.pointer, output: fused.pointer, g,
                        epilogue: ConvEpilogue(bias: bias.pointer, slope: 0.2))
                    convBackwardDataKernel(outputGradient: dy.pointer, filter: w.pointer, inputGradient: dx.pointer, g)
                    convBackwardFilterKernel(
                        input: x.pointer, outputGradient: dy.pointer, filterGradient: dw.pointer, g)
                    return [y, fused, dx, dw]
                }
            }
            let tolerance = algorithm == .winograd ? 1e-4 : 1e-5
            assertClose(
                doubles(results[0]), Reference.conv2d(doubles(x), x.shape, doubles(w), w.shape, padding: 1),
                tolerance: tolerance, "\(algorithm) forward")
            assertClose(
                doubles(results[2]),
                Reference.conv2dBackwardData(doubles(dy), x.shape, doubles(w), w.shape, padding: 1),
                tolerance: tolerance, "\(algorithm) data gradient")
            assertClose(
                doubles(results[3]),
                Reference.conv2dBackwardFilter(doubles(x), x.shape, doubles(dy), w.shape, padding: 1),
                tolerance: tolerance, "\(algorithm) filter gradient")
        }
    }

    /// The im2col path's other branches: a 1x1 conv, batched small images, and a shrinking conv whose data
    /// gradient goes through col2im.
    /// The FID Inception's forward-only kernels: strided and factorized convs (own im2col, several bands),
    /// pools, the resize and the concatenation.
    func testInferenceKernels() {
        let x = randomTensor([2, 24, 40, 40], seed: 5)
        let strided = randomTensor([40, 24, 3, 3], seed: 6), wide = randomTensor([32, 24, 1, 7], seed: 7)
        let bias = randomTensor([40], seed: 8), narrowBias = randomTensor([32], seed: 9)
        sameBitsAtEveryThreadCount("inference kernels") {
            let down = conv2dInference(x, strided, bias: bias, stride: 2, relu: true)
            let across = conv2dInference(x, wide, bias: narrowBias, padding: (0, 3), relu: false)
            return [
                down, across, pool2d(x, .maximum, kernel: 3, stride: 2),
                pool2d(x, .average, kernel: 3, stride: 1, padding: 1),
                resizeBilinear(x, height: 57, width: 61), concatenateChannels([x, across]),
            ]
        }
    }

    func testIm2colBranches() {
        for (n, c, size, o, k, pad) in [(8, 64, 8, 64, 1, 0), (16, 64, 4, 64, 3, 1), (4, 16, 16, 24, 3, 0)] {
            let x = randomTensor([n, c, size, size], seed: 5), w = randomTensor([o, c, k, k], seed: 6)
            let out = size + 2 * pad - k + 1
            let dy = randomTensor([n, o, out, out], seed: 7)
            let results = ConvAlgorithm.forcing(.im2col) {
                sameBitsAtEveryThreadCount("im2col \(c)ch \(size)x\(size) k\(k)") {
                    [
                        conv2d(x, w, padding: pad), conv2dBackwardData(dy, w, inputShape: x.shape, padding: pad),
                        conv2dBackwardFilter(x, dy, kernel: k, padding: pad),
                    ]
                }
            }
            assertClose(
                doubles(results[1]),
                Reference.conv2dBackwardData(doubles(dy), x.shape, doubles(w), w.shape, padding: pad),
                tolerance: 1e-5, "\(c)ch \(size)x\(size) k\(k) data gradient")
        }
    }

    func testMatmulInPanels() {
        let (m, k, n) = (96, 200, 700)
        let a = randomTensor([m, k], seed: 8), b = randomTensor([k, n], seed: 9), bt = randomTensor([n, k], seed: 10)
        // 6 MFLOP: a GEMM small enough for just two panels.
        let narrow = randomTensor([16, 128], seed: 15), wide = randomTensor([128, 1500], seed: 16)
        let results = sameBitsAtEveryThreadCount("matmul") {
            [
                matmul(a, b), matmul(a, bt, transposeB: true), matmul(b, a, transposeA: true, transposeB: true),
                matmul(narrow, wide),
            ]
        }
        assertClose(
            doubles(results[0]), Reference.matmul(doubles(a), doubles(b), m: m, k: k, n: n), tolerance: 1e-5, "")
        assertClose(
            doubles(results[3]), Reference.matmul(doubles(narrow), doubles(wide), m: 16, k: 128, n: 1500),
            tolerance: 1e-5, "two panels")
    }

    func testElementwiseResamplingAndNormalization() {
        let x = randomTensor([4, 32, 32, 32], seed: 11), y = randomTensor([4, 32, 32, 32], seed: 12)
        let coarse = randomTensor([4, 32, 16, 16], seed: 13), bias = randomTensor([32], seed: 14)
        let results = sameBitsAtEveryThreadCount("elementwise") {
            [
                leakyRelu(x), add(x, y), lerp(x, y, 0.3), addBias(x, bias), upsample2x(coarse), avgPool2x2(x),
                fadeIn(upsampling: coarse, into: x, alpha: 0.4), fadeTowardCoarse(x, alpha: 0.6), pixelNorm(x),
                gradient(of: { sum(mul(pixelNorm($0), y)) }, at: x),
            ]
        }
        assertClose(doubles(results[8]), Reference.pixelNorm(doubles(x), x.shape), tolerance: 1e-5, "pixel norm")
    }

    /// Sums along a short axis (shared out by output), along a long one with few outputs (the fixed tree
    /// of partial sums), and broadcasts.
    func testReductions() {
        let x = randomTensor([8, 64, 32, 32], seed: 15), long = randomTensor([300_000], seed: 16)
        let results = sameBitsAtEveryThreadCount("reductions") {
            [
                sumToChannels(x), sumChannels(x), sumPerSample(x), sum(long),
                broadcastChannels(sumChannels(x), channels: 5),
            ]
        }
        let exact = long.scalars.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(Double(results[3].scalars[0]), exact, accuracy: 1e-3 * max(1, abs(exact)), "long sum")
        let perChannel = (0..<64).map { c in
            (0..<8).reduce(0.0) { total, s in
                total + (0..<1024).reduce(0.0) { $0 + Double(x.pointer[(s * 64 + c) * 1024 + $1]) }
            }
        }
        assertClose(doubles(results[0]), perChannel, tolerance: 1e-5, "sum to channels")
    }

    func testAdamUpdate() {
        let count = 100_000
        let gradients = randomTensor([count], seed: 17)
        sameBitsAtEveryThreadCount("adam") {
            let parameters = randomTensor([count], seed: 18), adam = Adam(count: count)
            for _ in 0..<3 {
                adam.update(
                    parameters: parameters.pointer, gradients: gradients.pointer, count: count, learningRate: 0.01)
            }
            return [parameters]
        }
    }
}

/// d f(x) / dx for a scalar f, through the fused (unrecorded) backward kernels.
private func gradient(of f: (Tensor) -> Tensor, at x: Tensor) -> Tensor {
    let input = x.requiringGradient()
    return grad(of: f(input), wrt: [input])[0]
}
