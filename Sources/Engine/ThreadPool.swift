import Foundation
import Glibc
import Synchronization

/// The engine's threads: the calling thread plus `threads - 1` workers, sharing out the blocks of one
/// kernel at a time, or whole tasks (`concurrentTasks`) whose kernels then run on one thread each.
///
/// Results never depend on the number of threads. Every kernel cuts its work into blocks whose
/// boundaries are a function of the shapes alone (fixed GEMM panels, fixed ranges of channels, pixels
/// or elements), each block writes memory no other block touches and computes it in the same order
/// whichever thread runs it, and sums across blocks are added in a fixed order. So a rank with 1, 2, 3
/// or 64 threads computes the same bits, and deterministic training needs no pinning. OpenBLAS runs
/// single-threaded inside the blocks: its own threads round differently with their number.
///
/// Blocks are handed out one at a time from a shared counter, so a thread slowed by another process
/// on the same core does not hold the others up. A kernel called from inside a block (one already
/// running on the pool) runs its blocks in order on that thread: the same blocks, so the same bits.
public final class ThreadPool: @unchecked Sendable {
    /// The pool every kernel uses; `threads` sizes it.
    static let shared = ThreadPool()

    /// Threads per process the kernels use, the calling thread included; at first the cores the process
    /// is bound to (`boundCores`).
    public static var threads: Int {
        get { shared.workers + 1 }
        set {
            precondition(newValue >= 1, "ThreadPool.threads must be at least 1, got \(newValue)")
            shared.resize(workers: newValue - 1)
        }
    }

    /// The cores this process may run on (its CPU affinity mask), 1 if it cannot be read: a rank
    /// that mpirun bound to one core gets 1, an unbound process on 64 cores 64.
    public static var boundCores: Int {
        // Room for 8192 CPUs, as glibc's CPU_ALLOC would size it.
        var mask = [UInt64](repeating: 0, count: 128)
        let status = mask.withUnsafeMutableBytes { affinityMask(0, $0.count, $0.baseAddress!) }
        guard status == 0 else { return 1 }
        return max(1, mask.reduce(0) { $0 + $1.nonzeroBitCount })
    }

    /// One kernel's blocks: `body(i)` for i in 0..<count, claimed through `next`, counted in `done`.
    private final class Job: @unchecked Sendable {
        let count: Int
        /// Read only by a thread that has claimed a block, so `run` may drop it once every block is done,
        /// while a late worker still holds the job: the caller's closure never outlives `run`.
        var body: ((Int) -> Void)?
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)

        init(count: Int, body: @escaping (Int) -> Void) {
            self.count = count
            self.body = body
        }

        /// Runs blocks until none is left; true if this thread finished the job's last block.
        func drain() -> Bool {
            var finishedLast = false
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count else { return finishedLast }
                body!(index)
                finishedLast = done.wrappingAdd(1, ordering: .releasing).newValue == count
            }
        }

        var isDone: Bool { done.load(ordering: .acquiring) == count }
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Bumped for every job (and for every resize that retires workers); workers watch it.
    private let generation = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    // Guarded by `mutex`.
    private var job: Job?
    private var sleepingWorkers = 0
    private var callerWaiting = false
    private var workers = 0
    private var retiring = 0

    /// How long a thread polls for the next job (or a job's last blocks) before it sleeps. Kernels come
    /// a few microseconds apart, with gaps of the caller's own work between them, and waking a sleeping
    /// thread takes longer than many kernels (tens to hundreds of microseconds on a virtual machine), so
    /// a worker that slept after each kernel would arrive when the caller had done the blocks alone.
    /// OpenMP runtimes spin for milliseconds for the same reason; the polls yield the core to any other
    /// runnable thread, so a loaded machine loses little to them.
    private static let spinNanoseconds: UInt64 = 1_000_000

    /// Polls `ready` for up to `spinNanoseconds`; true as soon as it holds.
    private static func spin(until ready: () -> Bool) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + spinNanoseconds
        while true {
            for _ in 0..<64 { if ready() { return true } }
            if DispatchTime.now().uptimeNanoseconds > deadline { return false }
            sched_yield()
        }
    }

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(finished, nil)
        resize(workers: Self.boundCores - 1)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private func resize(workers target: Int) {
        locked {
            if target < workers {
                retiring = workers - target
                job = nil
                generation.wrappingAdd(1, ordering: .releasing)
                pthread_cond_broadcast(wake)
                while retiring > 0 { pthread_cond_wait(finished, mutex) }
            }
            // A new worker starts from the current generation, so it takes the next job, not an old one.
            let start = generation.load(ordering: .relaxed)
            while workers < target {
                workers += 1
                Thread { [unowned self] in self.work(seen: start) }.start()
            }
            workers = target
        }
    }

    /// A worker: waits for each new job, helps drain it; leaves when told to retire.
    private func work(seen: Int) {
        var seen = seen
        while true {
            _ = Self.spin { generation.load(ordering: .acquiring) != seen }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .acquiring) == seen {
                sleepingWorkers += 1
                pthread_cond_wait(wake, mutex)
                sleepingWorkers -= 1
            }
            seen = generation.load(ordering: .acquiring)
            if retiring > 0 {
                retiring -= 1
                pthread_cond_broadcast(finished)
                pthread_mutex_unlock(mutex)
                return
            }
            let current = job
            pthread_mutex_unlock(mutex)
            if current?.drain() == true { locked { if callerWaiting { pthread_cond_signal(finished) } } }
        }
    }

    /// `body(i)` for every i in 0..<count, on all threads; returns when every block is done.
    func run(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1, workers > 0,
            running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for index in 0..<count { body(index) }
            return
        }
        defer { running.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let current = Job(count: count, body: body)
            locked {
                job = current
                generation.wrappingAdd(1, ordering: .releasing)
                if sleepingWorkers > 0 { pthread_cond_broadcast(wake) }
            }
            if !current.drain(), !Self.spin(until: { current.isDone }) {
                locked {
                    callerWaiting = true
                    while !current.isDone { pthread_cond_wait(finished, mutex) }
                    callerWaiting = false
                }
            }
            current.body = nil
            locked { job = nil }
        }
    }
}

/// Runs `task(i)` for every i in 0..<count as independent tasks on the engine's threads, one task per
/// thread at a time; kernels a task calls run on its thread alone (the pool is busy with the tasks), with
/// the thread's own tape mode and scratch buffers. For work that is whole passes, such as the
/// micro-batches of a training step: a task of whole passes shares out far better than the kernels of one
/// pass. Each kernel computes the same bits alone as shared out, so a task's results do not depend on
/// which thread ran it or on how many there are.
public func concurrentTasks(_ count: Int, _ task: (Int) -> Void) {
    ThreadPool.shared.run(count, task)
}

/// Runs `body` over 0..<count cut into consecutive ranges of `grain` items (the last may be shorter),
/// on the engine's threads. The ranges depend only on `count` and `grain`.
public func parallelRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let grain = max(1, grain), blocks = (count + grain - 1) / grain
    ThreadPool.shared.run(blocks) { block in
        body((block * grain)..<min(count, (block + 1) * grain))
    }
}

/// Runs `body(i)` for every i in 0..<count on the engine's threads, items of about `itemSize` elements
/// grouped into blocks of at least `elementwiseGrain` elements (one item per block by default).
func parallelForEach(_ count: Int, itemSize: Int = elementwiseGrain, _ body: (Int) -> Void) {
    parallelRanges(count, grain: elementwiseGrain / max(itemSize, 1)) { items in
        for item in items { body(item) }
    }
}

/// Elements per block of the elementwise kernels: large enough that handing out a block costs little
/// against its work, small enough that a few hundred thousand values split across many threads.
let elementwiseGrain = 16_384

/// glibc's sched_getaffinity, which its Swift module leaves out (it is a GNU extension).
@_silgen_name("sched_getaffinity")
private func affinityMask(_ pid: Int32, _ size: Int, _ mask: UnsafeMutableRawPointer) -> Int32
