// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "shadowdiff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "shadowdiff", targets: ["shadowdiff"]),
        .executable(name: "fixture-bidder", targets: ["FixtureBidder"]),
        .executable(name: "fixture-grpc-bidder", targets: ["FixtureGRPCBidder"]),
        // For the fuzzers in fuzz/ (a package of their own, built with -sanitize=fuzzer).
        .library(name: "ShadowFuzzTargets", targets: ["ShadowFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", exact: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", exact: "1.46.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [
        // libpcap, through pkg-config; `make` installs libpcap-dev when it is missing.
        .systemLibrary(
            name: "CLibpcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Linux calls Swift cannot make directly (variadic prctl).
        .systemLibrary(name: "CShadowSys"),
        // Value types shared by every stage: exchanges, results, drop reasons.
        .target(name: "ShadowCore"),
        // Packet decoding, TCP reassembly, HTTP/1.1 parsing, HTTP/2 streams through ShadowHTTP2, pcap file source.
        .target(name: "ShadowCapture", dependencies: [
            "ShadowCore", "ShadowHTTP2", "CLibpcap",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // SQLite store: schema, migrations, batched writers, streaming readers.
        .target(name: "ShadowStore", dependencies: [
            "ShadowCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // HTTP/1.x framing without decoding: strict message heads, bodies delimited per RFC 9112.
        .target(name: "ShadowHTTP1", dependencies: [
            "ShadowCore",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // HTTP/2 frames, header blocks, HPACK through NIOHPACK (mid-connection captures included),
        // streams put together from both directions, gRPC message framing and metadata.
        .target(name: "ShadowHTTP2", dependencies: [
            "ShadowCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
        ]),
        // Sends recorded requests to baseline and candidate on a schedule, records what they answered.
        .target(name: "ShadowReplay", dependencies: [
            "ShadowCore", "ShadowStore", "ShadowHTTP1", "CShadowSys",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // Live Prometheus metrics (swift-metrics with the swift-prometheus backend) and their HTTP endpoint.
        .target(name: "ShadowMetrics", dependencies: [
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Tee sockets: the inline recording proxy and the mirror sink (SwiftNIO; HTTP framed, not decoded).
        .target(name: "ShadowTee", dependencies: [
            "ShadowCore", "ShadowHTTP1", "ShadowStore", "CShadowSys",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOExtras", package: "swift-nio-extras"),
        ]),
        // Pure statistics for paired latency samples: percentiles, Wilcoxon signed-rank,
        // Hodges-Lehmann, paired bootstrap, Holm. Checked against SciPy (fixtures/stats).
        .target(name: "ShadowStats"),
        // Rules, decision extraction, structural JSON diff, noise, latency verdicts, content decoding.
        .target(name: "ShadowDiff", dependencies: [
            "ShadowCore", "ShadowStats",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "CompressNIO", package: "compress-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Protobuf without sockets: the wire format decoded with or without a schema (a
        // FileDescriptorSet, read with SwiftProtobuf's descriptor types), as a value tree and as text.
        .target(name: "ShadowProtobuf", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        // Terminal summary and JSON, HTML, Markdown and JUnit reports.
        .target(name: "ShadowReport", dependencies: ["ShadowCore", "ShadowDiff", "ShadowStats"]),
        // Every parser of untrusted bytes as a fuzz target: fuzz/ runs them under libFuzzer,
        // ShadowFuzzTargetsTests replays the committed inputs in fixtures/fuzz/.
        .target(name: "ShadowFuzzTargets", dependencies: [
            "ShadowCore", "ShadowCapture", "ShadowHTTP1", "ShadowDiff", "ShadowProtobuf", "ShadowHTTP2",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .executableTarget(name: "shadowdiff", dependencies: [
            "CShadowSys", "ShadowCore", "ShadowCapture", "ShadowStore", "ShadowTee", "ShadowReplay", "ShadowMetrics", "ShadowDiff",
            "ShadowReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The fixture bidders' auction: request model, bids, the candidate's changes (no I/O).
        .target(name: "FixtureAuction", path: "fixtures/auction"),
        // The OpenRTB test bidder: `fixture-bidder --build baseline|candidate --port N`.
        .executableTarget(
            name: "FixtureBidder",
            dependencies: [
                "CShadowSys", "FixtureAuction",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "fixtures/bidder"
        ),
        // The same auction over gRPC (h2c): `fixture-grpc-bidder --build baseline|candidate --port N`.
        // Generated/ is protoc output, committed (fixtures/grpc-bidder/README.md).
        .executableTarget(
            name: "FixtureGRPCBidder",
            dependencies: [
                "FixtureAuction",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "fixtures/grpc-bidder",
            exclude: ["proto", "requests", "bidder.pb", "generate.sh", "README.md"]
        ),
        .testTarget(name: "ShadowCoreTests", dependencies: ["ShadowCore"]),
        .testTarget(name: "ShadowCaptureTests", dependencies: ["ShadowCapture"]),
        .testTarget(name: "ShadowStoreTests", dependencies: [
            "ShadowStore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "ShadowReplayTests", dependencies: [
            "ShadowReplay", "ShadowStore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ShadowDiffTests", dependencies: ["ShadowDiff"]),
        .testTarget(name: "ShadowStatsTests", dependencies: ["ShadowStats", "ShadowCore"]),
        .testTarget(name: "ShadowReportTests", dependencies: ["ShadowReport", "ShadowDiff", "ShadowStats", "ShadowCore"]),
        .testTarget(name: "ShadowHTTP1Tests", dependencies: [
            "ShadowHTTP1",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "ShadowHTTP2Tests", dependencies: [
            "ShadowHTTP2", "ShadowCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
        ]),
        .testTarget(name: "ShadowMetricsTests", dependencies: [
            "ShadowMetrics",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ShadowTeeTests", dependencies: [
            "ShadowTee", "ShadowStore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ShadowProtobufTests", dependencies: ["ShadowProtobuf", "ShadowCore"]),
        .testTarget(name: "ShadowFuzzTargetsTests", dependencies: ["ShadowFuzzTargets"]),
        // Drives the built `shadowdiff` and `fixture-bidder` binaries, tcpdump and curl.
        .testTarget(name: "EndToEndTests", dependencies: ["ShadowStore", "ShadowTee"]),
    ]
)
