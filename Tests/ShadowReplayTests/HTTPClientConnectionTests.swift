import NIOCore
import NIOHTTP1
import NIOPosix
import ShadowCore
import Testing

@testable import ShadowReplay

/// A loopback HTTP server for tests: echoes the request body, or stalls when the path is /stall.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(let b):
            body += b.readableBytesView
        case .end:
            guard let head, head.uri != "/stall" else { return }
            var headers = HTTPHeaders([("Content-Length", "\(body.count)"), ("X-Host", head.headers["Host"].first ?? "")])
            if head.uri == "/close" { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

func withEchoServer<T>(_ body: (Int) async throws -> T) async throws -> T {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(EchoHandler())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    do {
        let result = try await body(channel.localAddress!.port!)
        try await channel.close()
        return result
    } catch {
        try? await channel.close()
        throw error
    }
}

@Suite struct HTTPClientConnectionTests {
    @Test func sendsRequestsOverOneKeepAliveConnectionWithTimings() async throws {
        // Generous timeouts: the suite shares 2 cores with live-capture tests running wrk.
        try await withEchoServer { port in
            let target = try ReplayTarget(side: .baseline, url: "http://127.0.0.1:\(port)", flag: "--baseline")
            let connection = try await HTTPClientConnection.connect(to: target, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(10))
            for n in 0..<3 {
                let request = RecordedRequest(method: "POST", target: "/x", headers: [], body: Array("body \(n)".utf8))
                let timed = try await connection.send(
                    RequestBuilder.head(for: request, to: target), body: ByteBuffer(bytes: request.body), maxBodyBytes: 1024,
                    timeout: .seconds(10))
                #expect(timed.response.status == 200)
                #expect(timed.response.body == request.body)
                #expect(timed.response.headers.first("X-Host") == "127.0.0.1:\(port)")
                #expect(timed.sentNs <= timed.firstByteNs && timed.firstByteNs <= timed.lastByteNs)
            }
            #expect(connection.channel.isActive)
            await connection.close()
        }
    }

    @Test func timeoutAndOversizedBodyAreRecordedWithTheirKind() async throws {
        try await withEchoServer { port in
            let target = try ReplayTarget(side: .baseline, url: "http://127.0.0.1:\(port)", flag: "--baseline")
            let group = MultiThreadedEventLoopGroup.singleton
            let stalled = try await HTTPClientConnection.connect(to: target, group: group, timeout: .seconds(10))
            let stallHead = RequestBuilder.head(for: RecordedRequest(method: "GET", target: "/stall", headers: [], body: []), to: target)
            do throws(ReplayFailure) {
                _ = try await stalled.send(stallHead, body: ByteBuffer(), maxBodyBytes: 10, timeout: .milliseconds(100))
                Issue.record("a stalled response completed")
            } catch {
                #expect(error.kind == .timeout)
            }
            let big = try await HTTPClientConnection.connect(to: target, group: group, timeout: .seconds(10))
            let request = RecordedRequest(method: "POST", target: "/x", headers: [], body: Array(repeating: 65, count: 100))
            do throws(ReplayFailure) {
                _ = try await big.send(RequestBuilder.head(for: request, to: target), body: ByteBuffer(bytes: request.body),
                                       maxBodyBytes: 10, timeout: .seconds(10))
                Issue.record("an oversized body was accepted")
            } catch {
                #expect(error.kind == .bodyTooLarge)
            }
        }
    }

    @Test func refusedConnectionIsClassified() async throws {
        let port = try await withEchoServer { $0 }  // closed again: nothing listens there now
        let target = try ReplayTarget(side: .baseline, url: "http://127.0.0.1:\(port)", flag: "--baseline")
        do throws(ReplayFailure) {
            _ = try await HTTPClientConnection.connect(to: target, group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(1))
            Issue.record("connected to a closed port")
        } catch {
            #expect(error.kind == .connectionRefused)
        }
    }
}
