import Foundation
import ShadowCore
import ShadowFuzzTargets
import Testing

/// Replays every committed fuzz input (fixtures/fuzz/TARGET/: seeds, and each crash the fuzzer
/// ever found) through its target: a parser that crashes again, or breaks a contract the target
/// checks, traps here.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fixtures/fuzz").standardized

    static func inputs(of target: FuzzTarget) throws -> [URL] {
        let directory = root.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.allCases)
    func committedInputsRunCleanly(target: FuzzTarget) throws {
        let inputs = try Self.inputs(of: target)
        #expect(inputs.contains { $0.lastPathComponent.hasPrefix("seed-") }, "fixtures/fuzz/\(target.rawValue) has no seed")
        for input in inputs {
            let bytes = try Data(contentsOf: input)
            bytes.withUnsafeBytes { target.run($0) }
        }
    }

    /// Every prefix of every committed input: truncation is the commonest damage real input has.
    @Test(arguments: FuzzTarget.allCases)
    func prefixesOfCommittedInputsRunCleanly(target: FuzzTarget) throws {
        var runs = 0
        for input in try Self.inputs(of: target) {
            let bytes = [UInt8](try Data(contentsOf: input))
            for end in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 64)) {
                bytes[..<end].withUnsafeBytes { target.run($0) }
                runs += 1
            }
        }
        #expect(runs > 0)
    }

    /// Seeded random bytes and random single-byte changes of the seeds: a quick stand-in for the
    /// fuzzer that runs in every `make test`.
    @Test(arguments: FuzzTarget.allCases)
    func mutatedInputsRunCleanly(target: FuzzTarget) throws {
        var random = SplitMix64(seed: 0x5EED_0000 + UInt64(target.rawValue.utf8.count))
        let seeds = try Self.inputs(of: target).map { [UInt8](try Data(contentsOf: $0)) }
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int(random.next() % 512)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = seeds[Int(random.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + random.next() % 8) where !bytes.isEmpty {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            bytes.withUnsafeBytes { target.run($0) }
        }
    }

    @Test func targetsAreNamedAsTheirDirectories() throws {
        let directories = try FileManager.default.contentsOfDirectory(atPath: Self.root.path).sorted()
        #expect(directories == FuzzTarget.allCases.map(\.rawValue).sorted())
    }
}
