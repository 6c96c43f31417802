import ArgumentParser

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
