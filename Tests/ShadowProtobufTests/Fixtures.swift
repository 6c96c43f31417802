import Foundation
import ShadowProtobuf

/// The committed protobuf fixtures in fixtures/proto/ (see the README there).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/proto").standardized

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    static let openRTB: ProtobufSchema = try! ProtobufSchema(descriptorSet: bytes("openrtb.pb"))
    static let testSchema: ProtobufSchema = try! ProtobufSchema(descriptorSet: bytes("shadowtest.pb"))

    /// Each encoded fixture with its schema and message type.
    static let messages: [(name: String, schema: ProtobufSchema, type: String)] = [
        ("bidresponse", openRTB, "com.iabtechlab.openrtb.v2.BidResponse"),
        ("nobid", openRTB, "com.iabtechlab.openrtb.v2.BidResponse"),
        ("bidrequest", openRTB, "com.iabtechlab.openrtb.v2.BidRequest"),
        ("scalars", testSchema, "shadowdiff.test.Scalars"),
        ("collections", testSchema, "shadowdiff.test.Collections"),
        ("legacy", testSchema, "shadowdiff.test2.Legacy"),
    ]

    static let bidResponse = "com.iabtechlab.openrtb.v2.BidResponse"
}
