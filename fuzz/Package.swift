// swift-tools-version: 6.1
// The libFuzzer build of shadowdiff's parsers; `make fuzz` builds and runs it (see fuzz/README.md).
// A package of its own because every module in it is compiled with -sanitize=fuzzer,address.
import PackageDescription

let package = Package(
    name: "shadowdiff-fuzz",
    dependencies: [.package(name: "shadowdiff", path: "..")],
    targets: [
        .executableTarget(
            name: "shadowdiff-fuzz",
            dependencies: [.product(name: "ShadowFuzzTargets", package: "shadowdiff")]
        ),
    ]
)
