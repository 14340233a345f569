import CFlintKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A persistent pool of worker threads for splitting one op across all cores.
///
/// `run` publishes a job by bumping a generation counter; workers spin briefly on it
/// (an op every few microseconds during a forward pass) and park on a condition
/// variable when idle, so an idle server does not burn CPU. The calling thread
/// takes part as thread 0. Nothing is allocated per call.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var threads: [pthread_t] = []
    /// The job of the current generation; written only while no worker runs.
    private var job: (task: PoolTask, argument: UnsafeMutableRawPointer)?

    private static let spinsBeforeSleep = 20_000

    public init(threads count: Int) {
        threadCount = max(1, count)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { self.threads.append(tid) } else { box.release() }
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `task(argument, threadIndex, threadCount)` on every thread of the pool and
    /// returns when all have finished. The hot paths (matmul, attention) use this form: a
    /// C-convention function and a pointer to an argument struct on the caller's stack,
    /// so a call allocates nothing.
    public func run(_ task: PoolTask, _ argument: UnsafeMutableRawPointer) {
        let workers = threads.count
        if workers == 0 { task(argument, 0, 1); return }
        job = (task, argument)
        pending.store(workers, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&cond)
            pthread_mutex_unlock(&mutex)
        }
        task(argument, 0, workers + 1)
        while pending.load(ordering: .acquiring) > 0 { spinPause() }
        job = nil
    }

    /// Runs `body(threadIndex, threadCount)` on every thread. Convenient, but Swift boxes a
    /// closure that is handed to other threads (`withoutActuallyEscaping` allocates), so
    /// per-token code uses `run(_:_:)`.
    public func run(_ body: (Int, Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            var closure = ClosureJob(body: escaping)
            withUnsafeMutablePointer(to: &closure) { run(ClosureJob.task, UnsafeMutableRawPointer($0)) }
        }
    }

    @inline(__always)
    public static func chunk(_ count: Int, _ index: Int, _ total: Int) -> Range<Int> {
        let per = count / total, extra = count % total
        let start = index * per + min(index, extra)
        return start..<(start + per + (index < extra ? 1 : 0))
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < Self.spinsBeforeSleep {
                    spinPause()
                } else {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        pthread_cond_wait(&cond, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            if let job { job.task(job.argument, index, threads.count + 1) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

/// A pool job: called on every thread with the argument pointer, the thread's index and
/// the thread count.
public typealias PoolTask = @convention(c) (UnsafeMutableRawPointer?, Int, Int) -> Void

private struct ClosureJob {
    var body: (Int, Int) -> Void
    static let task: PoolTask = { argument, index, total in
        argument!.assumingMemoryBound(to: ClosureJob.self).pointee.body(index, total)
    }
}

private final class WorkerStart {
    let pool: ThreadPool
    let index: Int
    init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
}

@inline(__always)
func spinPause() { flint_cpu_relax() }
