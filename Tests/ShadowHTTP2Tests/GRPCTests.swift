import ShadowCore
import Testing
@testable import ShadowHTTP2

@Suite struct GRPCTests {
    @Test func messagesSplitAcrossAndMergedWithinPieces() throws {
        let one = Wire.grpc(Array(repeating: 1, count: 300)), two = Wire.grpc([2, 2], compressed: true), three = Wire.grpc([])
        let body = one + two + three
        for piece in [1, 3, 7, 305, body.count] {
            var framer = GRPCMessageFramer()
            var messages: [GRPCMessage] = []
            for start in stride(from: 0, to: body.count, by: piece) {
                framer.append(body[start..<min(start + piece, body.count)])
                while let message = try framer.next() { messages.append(message) }
            }
            try framer.finish()
            #expect(messages.map(\.payload.count) == [300, 2, 0])
            #expect(messages.map(\.compressed) == [false, true, false])
            #expect(messages.map(\.offset) == [0, 305, 312])
        }
    }

    @Test func aMessageOverTheLimitIsSkippedAndReadingGoesOn() throws {
        var framer = GRPCMessageFramer(maxMessageBytes: 100)
        framer.append(Wire.grpc(Array(repeating: 9, count: 150)).prefix(50))
        #expect(throws: GRPCFramingError.messageTooLarge(offset: 0, length: 150, limit: 100)) { try framer.next() }
        framer.append(Wire.grpc(Array(repeating: 9, count: 150)).dropFirst(50) + Wire.grpc([5]))
        #expect(try framer.next()?.payload == [5])
        #expect(framer.offset == 155 + 6)
    }

    @Test func aBadFlagOrATruncatedBodyIsAnError() {
        var framer = GRPCMessageFramer()
        framer.append([7, 0, 0, 0, 1, 0])
        #expect(throws: GRPCFramingError.badCompressedFlag(offset: 0, flag: 7)) { try framer.next() }
        var short = GRPCMessageFramer()
        short.append([0, 0, 0, 0, 9, 1, 2])
        #expect(throws: GRPCFramingError.truncated(offset: 0, have: 7, need: 14)) { try short.finish() }
    }

    @Test func statusMessageBinaryMetadataAndTimeout() {
        let fields = [HeaderField("grpc-status", "3"), HeaderField("grpc-message", "bad%20bid%3A%20price%zz%E2%9C%93")]
        #expect(GRPCMetadata.status(in: fields) == GRPCStatus(code: 3, message: "bad bid: price%zz✓"))
        #expect(GRPCMetadata.binaryValue("AAEC") == [0, 1, 2])
        #expect(GRPCMetadata.binaryValue("AAECAw==") == [0, 1, 2, 3])
        #expect(GRPCMetadata.binaryValue("AAECAw") == [0, 1, 2, 3])
        #expect(GRPCMetadata.binaryValue("AQ,Ag==") == [1, 2])
        #expect(GRPCMetadata.binaryValue("A") == nil)
        #expect(GRPCMetadata.binaryValue("a*b=") == nil)
        #expect(GRPCMetadata.timeoutNs("100m") == 100_000_000)
        #expect(GRPCMetadata.timeoutNs("5S") == 5_000_000_000)
        #expect(GRPCMetadata.timeoutNs("1H") == 3_600_000_000_000)
        #expect(GRPCMetadata.timeoutNs("123456789n") == nil)
        #expect(GRPCMetadata.timeoutNs("10x") == nil)
        #expect(GRPCMetadata.isGRPC(contentType: "application/grpc+proto"))
        #expect(!GRPCMetadata.isGRPC(contentType: "application/grpc-web"))
    }

    @Test func aUnaryCallWithMessagesSplitOverDataFrames() throws {
        var peers = Peers()
        peers.request(1, path: "/bidder.Bidder/Bid", endStream: false,
                      extra: [("content-type", "application/grpc"), ("grpc-timeout", "10m"), ("grpc-encoding", "gzip"), ("trace-bin", "AAEC")])
        let message = Wire.grpc(Array(repeating: 4, count: 40))
        peers.send(.client, Wire.data(stream: 1, Array(message.prefix(3))))
        peers.send(.client, Wire.data(stream: 1, endStream: true, Array(message.dropFirst(3)) + Wire.grpc([1], compressed: true)))
        peers.respond(1, extra: [("content-type", "application/grpc")])
        peers.send(.server, Wire.data(stream: 1, Wire.grpc([9, 9]) + Wire.grpc([8]) + Wire.grpc([7])))
        peers.trailers(.server, 1, [("grpc-status", "0"), ("grpc-message", "")])
        let exchange = try #require(peers.assembler.takeExchanges().first)
        let call = try #require(GRPCCall(exchange: exchange))
        #expect(call.method == "/bidder.Bidder/Bid")
        #expect(call.requestMessages.map(\.payload.count) == [40, 1])
        #expect(call.requestMessages.map(\.compressed) == [false, true])
        #expect(call.requestMessages.map(\.timestampNs) == [6_000, 6_000])
        #expect(call.responseMessages.map(\.payload) == [[9, 9], [8], [7]])
        #expect(call.status == GRPCStatus(code: 0, message: ""))
        #expect(!call.trailersOnly)
        #expect(call.timeoutNs == 10_000_000)
        #expect(call.requestEncoding == "gzip")
        #expect(call.binaryMetadata["trace-bin"] == [0, 1, 2])
        #expect(call.framingErrors.isEmpty)
    }

    @Test func aTrailersOnlyResponse() throws {
        var peers = Peers()
        peers.request(1, path: "/bidder.Bidder/Bid", endStream: false, extra: [("content-type", "application/grpc")])
        peers.send(.client, Wire.data(stream: 1, endStream: true, Wire.grpc([1])))
        peers.respond(1, endStream: true, extra: [("content-type", "application/grpc"), ("grpc-status", "14"), ("grpc-message", "unavailable")])
        let exchange = try #require(peers.assembler.takeExchanges().first)
        let call = try #require(GRPCCall(exchange: exchange))
        #expect(call.trailersOnly)
        #expect(call.status == GRPCStatus(code: 14, message: "unavailable"))
        #expect(call.responseMessages.isEmpty)
    }
}
