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
    /// Counters since the process started.
    public struct Statistics: Equatable {
        /// Buffers that had to come from the system allocator.
        public var allocations = 0
        /// Buffers served from the pool.
        public var reuses = 0
        /// Floats currently held by the pool, free for reuse.
        public var pooledFloats = 0
    }

    nonisolated(unsafe) private static var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var counters = Statistics()
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

    public static var statistics: Statistics { locked { counters } }

    /// Storage for `count` floats, 64-byte aligned, contents undefined.
    static func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let reused: UnsafeMutablePointer<Float>? = locked {
            guard let pointer = free[count]?.popLast() else {
                counters.allocations += 1
                return nil
            }
            counters.reuses += 1
            counters.pooledFloats -= count
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
        locked {
            free[count, default: []].append(pointer)
            counters.pooledFloats += count
        }
    }

    /// Returns every pooled buffer to the system: for when the sizes a step needs are about to change.
    public static func releaseUnused() {
        let released = locked {
            defer {
                free = [:]
                counters.pooledFloats = 0
            }
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
