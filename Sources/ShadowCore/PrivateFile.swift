import Foundation

/// Files that hold captured traffic (databases, reports): readable and writable by their owner only.
public enum PrivateFile {
    /// The mode every such file is created with.
    public static let mode: mode_t = 0o600

    /// Replaces the file at `path` with `data` atomically: written to a new file in the same directory,
    /// created with mode 0600 (never readable by others, not even for a moment), then renamed.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw error(path) }
        let written = data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        let failure = written ? nil : error(path)
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        // An earlier file may have had a wider mode: the new one keeps 0600 through the rename.
        guard rename(temporary, path) == 0 else {
            let failure = error(path)
            unlink(temporary)
            throw failure
        }
    }

    private static func error(_ path: String) -> ShadowError {
        .io(path: path, detail: String(cString: strerror(errno)))
    }
}
