import Foundation

extension Thread {
    /// Starts `body` on a new thread that `top -H`, `perf` and `/proc/PID/task/*/comm` show as
    /// `name`. Linux keeps 15 bytes of a thread's name and refuses a longer one, so `name` must
    /// fit; it is set from inside the new thread, before `body` runs.
    @discardableResult
    public static func startNamed(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Thread {
        precondition(name.utf8.count <= 15, "thread name '\(name)' is longer than Linux's 15 bytes")
        let thread = Thread {
            Thread.current.name = name
            // Foundation's setter did not always reach the kernel (a fresh-clone CI run saw the
            // creating dispatch thread's inherited name): set it there directly as well.
            #if os(Linux)
            let fd = open("/proc/thread-self/comm", O_WRONLY)
            if fd >= 0 {
                _ = name.withCString { write(fd, $0, strlen($0)) }
                close(fd)
            }
            #endif
            body()
        }
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
        return thread
    }
}
