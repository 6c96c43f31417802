import ArgumentParser
import ShadowCore

/// `shadowdiff capture`: the three ways in — packets (pcap file or live interface), proxy, mirror.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Record production requests (and production's responses) into the database.",
        discussion: """
            'capture --pcap FILE' and 'capture --interface IF' read packets (the default subcommand, \
            'packets'); 'capture proxy' records inline in front of production; 'capture mirror' \
            records a copy of the traffic sent by a load balancer (nginx mirror, Envoy shadowing).
            """,
        subcommands: [CapturePacketsCommand.self, CaptureProxyCommand.self, CaptureMirrorCommand.self],
        defaultSubcommand: CapturePacketsCommand.self
    )
}

/// How a capture that failed to write to its store says so.
enum CaptureFailure {
    /// A failed store write, saying what the capture keeps and how it is marked; other errors as they are.
    static func keeping(_ error: Error, _ captureID: Int64, _ committed: Int64, marked: Bool) -> Error {
        guard case let ShadowError.storeWrite(path, detail) = error else { return error }
        let status = marked ? "marked failed" : "listed as interrupted (it could not be marked failed)"
        return ShadowError.storeWrite(
            path: path, detail: "\(detail); capture \(captureID) keeps the \(committed) exchanges committed before it and is \(status)")
    }
}
