import Foundation
import ShadowFuzzTargets

/// libFuzzer's driver (in the runtime -sanitize=fuzzer links): parses libFuzzer's flags and calls
/// `callback` with each input.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

/// The target named by SHADOWDIFF_FUZZ_TARGET (one of `FuzzTarget`'s raw values).
nonisolated(unsafe) var target = FuzzTarget.rules

/// Runs libFuzzer on the target SHADOWDIFF_FUZZ_TARGET names; every other argument is libFuzzer's.
@main
enum ShadowdiffFuzz {
    static func main() {
        let name = ProcessInfo.processInfo.environment["SHADOWDIFF_FUZZ_TARGET"] ?? ""
        guard let chosen = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("SHADOWDIFF_FUZZ_TARGET=\(name): not a fuzz target; one of: \(names)\n".utf8))
            exit(2)
        }
        target = chosen
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in
            target.run(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
    }
}
