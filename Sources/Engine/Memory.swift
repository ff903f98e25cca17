import Glibc

/// Where tensor storage comes from: freed buffers are kept, by size, and handed out again.
///
/// A training step allocates the same activations, in the same sizes, as the step before, so after the
/// first step at a resolution every buffer it needs is already here: the hot loop makes no allocation,
/// takes no page faults and lets the kernel zero no fresh pages. The sizes change with the resolution,
/// minibatch and fade-in; the trainer calls `releaseUnused()` then, so the pool holds one resolution's
/// working set at a time, as preallocated per-resolution workspaces would, without a planner that must
/// know every op's shapes in advance.
public enum TensorMemory {
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var freshAllocations = 0
    // Tensors are created on the training thread, but conv kernels run slices on BLAS-sized thread
    // pools and a future caller may too: one uncontended lock costs far less than the buffers it guards.
    nonisolated(unsafe) private static var lock: pthread_mutex_t = {
        var mutex = pthread_mutex_t()
        pthread_mutex_init(&mutex, nil)
        return mutex
    }()

    private static func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    /// Tensor buffers that did not come from the pool since the process started: what a steady training
    /// step must not add to.
    public static var allocations: Int { locked { freshAllocations } }

    /// Storage for `count` floats, 64-byte aligned, contents undefined.
    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let reused: UnsafeMutablePointer<Float>? = locked {
            guard let pointer = free[count]?.popLast() else {
                freshAllocations += 1
                return nil
            }
            return pointer
        }
        return reused ?? systemAllocate(count)
    }

    /// Storage that bypasses the pool, for buffers that live as long as the process (scratch space that
    /// only grows): taken from the pool during the first step, they would leave the next step short.
    static func systemAllocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        _ = systemAllocatorTuned
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    static func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        locked { free[count, default: []].append(pointer) }
    }

    /// Hands every pooled buffer back to the allocator, for when the sizes a step needs are about to
    /// change: the next phase's buffers then reuse that memory instead of adding to it.
    public static func releaseUnused() {
        let released = locked {
            defer { free = [:] }
            return free.values.flatMap { $0 }
        }
        for pointer in released { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Arrays outside the pool (latents, labels, the reducer's sums) are also allocated and freed every
    /// step. By default glibc serves each large one from a fresh mmap and unmaps it on free, so every
    /// step would pay page faults and kernel zeroing for them; kept in the heap, freed memory is reused.
    private static let systemAllocatorTuned: Void = {
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 30)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, Int32.max)
    }()

    /// The largest resident set this process has had, in MiB.
    public static var peakResidentMiB: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}

/// glibc's `mallopt`, declared here because <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
