import Foundation

/// A blocking loopback TCP connection the test drives byte by byte, for clients that misbehave on purpose.
final class RawConnection {
    let fd: Int32
    /// When `connect` returned.
    let opened: Date

    enum Failure: Error { case socket(Int32), connect(Int32) }

    init(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            Foundation.close(fd)
            throw Failure.connect(error)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        opened = Date()
    }

    deinit {
        Foundation.close(fd)
    }

    /// Sends all of `bytes`; false once the peer has closed or reset the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool {
        send(Array(text.utf8))
    }

    /// The next bytes within `timeout` seconds: empty once the peer closed or reset, nil when none came.
    func receive(timeout: TimeInterval) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, timeout) * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[..<n]) : []
    }

    /// Reads until the peer closes, for at most `timeout` seconds: what arrived, and whether it closed.
    func readUntilClosed(timeout: TimeInterval) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while let chunk = receive(timeout: deadline.timeIntervalSinceNow) {
            if chunk.isEmpty { return (bytes, true) }
            bytes += chunk
        }
        return (bytes, false)
    }

    /// One response framed by its Content-Length, read within `timeout` seconds: its status and body.
    func readResponse(timeout: TimeInterval) -> (status: Int, body: [UInt8])? {
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while true {
            if let end = bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                let length = head.split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if bytes.count - end >= length { return (status, Array(bytes[end..<(end + length)])) }
            }
            guard let chunk = receive(timeout: deadline.timeIntervalSinceNow), !chunk.isEmpty else { return nil }
            bytes += chunk
        }
    }

    /// For each connection, seconds from its opening to the moment its peer closed it (nil: still
    /// open after `timeout`), and whether bytes came before the close.
    static func closes(of connections: [RawConnection], timeout: TimeInterval) -> [(after: TimeInterval?, gotBytes: Bool)] {
        var result = [(after: TimeInterval?, gotBytes: Bool)](repeating: (nil, false), count: connections.count)
        var open = Array(connections.indices)
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !open.isEmpty && Date() < deadline {
            var pollers = open.map { pollfd(fd: connections[$0].fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&pollers, nfds_t(pollers.count), 50) > 0 else { continue }
            let now = Date()
            var stillOpen: [Int] = []
            for (poller, index) in zip(pollers, open) {
                guard poller.revents != 0 else {
                    stillOpen.append(index)
                    continue
                }
                let n = recv(poller.fd, &buffer, buffer.count, 0)
                if n > 0 {
                    result[index].gotBytes = true
                    stillOpen.append(index)
                } else {
                    result[index].after = now.timeIntervalSince(connections[index].opened)
                }
            }
            open = stillOpen
        }
        return result
    }
}
