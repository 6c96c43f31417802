import Foundation

extension Thread {
    /// Starts `body` on a new thread that `top -H`, `perf` and `/proc/PID/task/*/comm` show as
    /// `name`. Linux keeps 15 bytes of a thread's name and refuses a longer one, so `name` must
    /// fit; it is set from inside the new thread, the only place Foundation on Linux applies it.
    @discardableResult
    public static func startNamed(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Thread {
        precondition(name.utf8.count <= 15, "thread name '\(name)' is longer than Linux's 15 bytes")
        let thread = Thread {
            Thread.current.name = name
            body()
        }
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
        return thread
    }
}
