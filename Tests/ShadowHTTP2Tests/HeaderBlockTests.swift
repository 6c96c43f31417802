import NIOCore
import NIOHPACK
import ShadowCore
import Testing
@testable import ShadowHTTP2

@Suite struct HeaderBlockTests {
    /// A block of about 40 KiB written as HEADERS + CONTINUATIONs of 16 KiB, fed in 1,354-byte
    /// pieces (TCP segments), decodes to the fields it was made of.
    @Test func continuationsSpanningManyPiecesMakeOneBlock() throws {
        var encoder = Encoder()
        let fields = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "a")]
            + (0..<40).map { ("x-big-\($0)", String(repeating: "v\($0 % 10)", count: 500)) }
        let block = encoder.block(fields)
        #expect(block.count > 3 * 16_384 / 2)
        var wire: [UInt8] = []
        let chunks = stride(from: 0, to: block.count, by: 16_384).map { Array(block[$0..<min($0 + 16_384, block.count)]) }
        for (i, chunk) in chunks.enumerated() {
            let last = i == chunks.count - 1
            wire += Wire.frame(i == 0 ? .headers : .continuation, flags: (last ? 0x4 : 0) | (i == 0 ? 0x1 : 0), stream: 1, chunk)
        }
        let read = frames(of: wire, piece: 1354)
        #expect(read.error == nil)
        var assembler = HeaderBlockAssembler()
        var blocks: [HTTP2HeaderBlock] = []
        for frame in read.frames {
            if case .block(let block) = try assembler.accept(frame) { blocks.append(block) }
        }
        #expect(blocks.count == 1)
        #expect(blocks.first?.frames == chunks.count)
        #expect(blocks.first?.kind == .headers(endStream: true))
        var context = HPACKContext(fromStart: true)
        let decoded = try context.decode(blocks[0].fragment)
        #expect(decoded.fields.pairs == fields.map { "\($0.0): \($0.1)" })
    }

    @Test func aNeverEndingContinuationIsCutOffOnceAndCounted() throws {
        var assembler = HeaderBlockAssembler(maxBlockBytes: 64 << 10)
        var reader = HTTP2FrameReader(start: .frames)
        reader.append(Wire.frame(.headers, stream: 1, [0x82]))
        var errors: [HeaderBlockError] = []
        for _ in 0..<1000 {
            reader.append(Wire.frame(.continuation, stream: 1, Array(repeating: 0x82, count: 1000)))
            while let frame = try reader.next() {
                do {
                    #expect(try assembler.accept(frame) == .incomplete)
                } catch {
                    errors.append(error)
                }
            }
        }
        #expect(errors == [.tooLarge(offset: 10 + 65 * 1009, streamID: 1, bytes: 66_001, limit: 65_536)])
        #expect(assembler.discardedFrames == 1000 - 66)
        #expect(assembler.isOpen)
        let end = HTTP2Frame(header: HTTP2FrameHeader(length: 0, type: .continuation, flags: .endHeaders, streamID: 1), payload: .continuation(fragment: ByteBuffer()), offset: 0)
        #expect(try assembler.accept(end) == .incomplete)
        #expect(!assembler.isOpen)
    }

    @Test func aFrameInsideABlockIsAnErrorAndCanBeGivenAgain() throws {
        var assembler = HeaderBlockAssembler()
        let read = frames(of: Wire.frame(.headers, stream: 1, [0x82]) + Wire.data(stream: 1, [1]) + Wire.frame(.continuation, flags: 4, stream: 3, [0x82]))
        #expect(try assembler.accept(read.frames[0]) == .incomplete)
        #expect(throws: HeaderBlockError.interrupted(offset: 10, streamID: 1, by: .data, onStream: 1)) { try assembler.accept(read.frames[1]) }
        #expect(try assembler.accept(read.frames[1]) == .notHeaderBlock)
        #expect(throws: HeaderBlockError.continuationWithoutBlock(offset: 20, streamID: 3)) { try assembler.accept(read.frames[2]) }
    }
}
