import BLASShim
import CBLAS

/// Matrix product `op(a) · op(b)` of 2-D tensors through `cblas_sgemm`, where op transposes when asked.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
    precondition(
        k == kb,
        "matmul: inner dimensions \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "") differ")
    let out = Tensor(uninitialized: [m, n])
    panelGemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
        a: a.pointer, lda: a.shape[1], b: b.pointer, ldb: b.shape[1], c: out.pointer, ldc: n, accumulate: false)
    return makeResult(
        out, inputs: [a, b],
        selectivePullback: { g, _, needed in
            switch (transposeA, transposeB) {
            case (false, false):
                return [
                    needed[0] ? matmul(g, b, transposeB: true) : nil, needed[1] ? matmul(a, g, transposeA: true) : nil,
                ]
            case (false, true):
                return [needed[0] ? matmul(g, b) : nil, needed[1] ? matmul(g, a, transposeA: true) : nil]
            case (true, false):
                return [needed[0] ? matmul(b, g, transposeB: true) : nil, needed[1] ? matmul(a, g) : nil]
            case (true, true):
                return [
                    needed[0] ? matmul(b, g, transposeA: true, transposeB: true) : nil,
                    needed[1] ? matmul(g, a, transposeA: true, transposeB: true) : nil,
                ]
            }
        })
}

/// Row-major `c = op(a) · op(b)` (or `c += ...` when accumulating), the one place that calls BLAS.
@inline(__always)
public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    _ = singleThreadedBLAS
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        if !accumulate { for row in 0..<m { (c + row * ldc).initialize(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb),
        accumulate ? 1 : 0, c, blasint(ldc))
}

/// OpenBLAS runs single-threaded, before its first call: the engine's threads are the parallelism
/// (`ThreadPool`), and OpenBLAS's own would round differently with their number.
private let singleThreadedBLAS: Void = openblas_set_num_threads(1)

/// The OpenBLAS kernels the GEMMs run on ("SkylakeX"), followed by those OpenBLAS's own detection had
/// picked when they were replaced at load for ones the CPU's features allow (BLASShim's blas_core.c).
public var blasKernels: String {
    let core = String(cString: progan_blas_core())
    guard let replaced = progan_blas_replaced_core() else { return core }
    return "\(core) (OpenBLAS detected \(String(cString: replaced)))"
}

/// `gemm` cut into fixed panels run on the engine's threads, each one single-threaded sgemm: panels of
/// the longer side of `c`, so that what each call packs again (the whole other operand) is the smaller
/// one, as many as the FLOPs warrant (a power of two, so that 2 or 4 threads share them evenly), at most
/// 64. The panels depend only on m, n and k, so the result does not depend on the thread count.
public func panelGemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    let byColumns = n >= m, side = byColumns ? n : m
    var panels = 1
    while panels < 64 && Double(2 * m * n * k) >= Double(2 * panels) * panelFLOPs && side >= 2 * panels * panelAlignment
    {
        panels *= 2
    }
    let size = ((side + panels - 1) / panels + panelAlignment - 1) / panelAlignment * panelAlignment
    parallelForEach((side + size - 1) / size) { panel in
        let start = panel * size, width = min(size, side - start)
        if byColumns {
            gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: width, k: k, a: a, lda: lda,
                b: b + (transposeB ? start * ldb : start), ldb: ldb, c: c + start, ldc: ldc, accumulate: accumulate)
        } else {
            gemm(
                transposeA: transposeA, transposeB: transposeB, m: width, n: n, k: k,
                a: a + (transposeA ? start : start * lda), lda: lda, b: b, ldb: ldb, c: c + start * ldc, ldc: ldc,
                accumulate: accumulate)
        }
    }
}

/// Work per GEMM panel (about 20 µs of one core): below it, handing out a panel costs too large a share
/// (a few microseconds, with the pool's threads polling for work between kernels).
private let panelFLOPs = 2e6
/// Panels start at multiples of this many rows or columns, whole register blocks of the sgemm kernels.
private let panelAlignment = 16
