import Glibc

/// What the engine keeps per calling thread: whether the tape records, and the kernels' scratch buffers.
///
/// A kernel's caller owns both; the blocks it hands to the pool share its buffers. Two threads calling
/// kernels at the same time (`concurrentTasks`, one micro-batch each) then each have their own, so one
/// task's `withoutGradients` or workspace never reaches into another's.
final class ThreadState {
    var isRecording = true
    var workspaces = Workspace.Slot.allCases.map { _ in FloatBuffer(count: 0, pooled: false) }

    /// The calling thread's state, made on its first use and freed when the thread exits.
    static var current: ThreadState {
        if let stored = pthread_getspecific(key) {
            return Unmanaged<ThreadState>.fromOpaque(stored).takeUnretainedValue()
        }
        let state = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        return state
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { stored in
            if let stored { Unmanaged<ThreadState>.fromOpaque(stored).release() }
        }
        precondition(status == 0, "pthread_key_create failed with \(status)")
        return key
    }()
}
