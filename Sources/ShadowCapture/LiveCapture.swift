import CLibpcap
import Foundation
import ShadowCore

/// How a live capture opens its interface and how much it may hold.
public struct LiveCaptureOptions: Sendable {
    /// Interface name (`lo`, `eth0`), or `any` for every interface (Linux cooked SLL2 frames).
    public var interface: String
    /// BPF expression applied in the kernel; packets it rejects are never seen, so not counted.
    public var filter: String?
    /// Bytes kept per packet; the default holds a whole 64 KiB segment (loopback MTU, GRO) with its headers.
    public var snapLength: Int = 66_000
    /// Deliver each packet at once. Off, libpcap fills its ring in blocks (TPACKET_V3), which holds
    /// several times more small packets in the same `kernelBufferBytes` than immediate mode's
    /// fixed-size slots of `snapLength` each.
    public var immediateMode = true
    /// libpcap's kernel ring buffer, in bytes: what absorbs bursts before the capture thread reads.
    public var kernelBufferBytes: Int = 256 << 20
    /// Packet bytes queued between the capture thread and the parser; past it packets are counted
    /// `capture_queue_full` and dropped.
    public var queueBytes: Int = 512 << 20
    public var limits: CaptureLimits

    public init(interface: String, filter: String? = nil, limits: CaptureLimits = .init()) {
        self.interface = interface
        self.filter = filter
        self.limits = limits
    }
}

/// A snapshot of a running live capture, for progress display.
public struct LiveCaptureStatus: Sendable {
    public var packets: Int64
    public var bytes: Int64
    public var exchanges: Int64
    public var connections: Int
    /// Packet bytes waiting between the capture thread and the parser.
    public var queuedBytes: Int
    /// Counts by drop reason so far (zeros omitted).
    public var drops: [(DropReason, Int64)]
}

/// Captures HTTP/1.x and HTTP/2 (h2c, gRPC) exchanges from a network interface through libpcap.
///
/// Contract:
/// - The interface is opened in immediate mode with nanosecond timestamps, `snapLength` and
///   `kernelBufferBytes`; opening fails with `ShadowError.captureDevice` (no such interface,
///   no permission, bad filter) before any packet is read.
/// - A dedicated capture thread only copies packets into batches and hands them to the parser
///   through a queue bounded by `queueBytes`; a full queue drops the batch and counts every packet
///   in it (`capture_queue_full`). The capture thread never waits on parsing or storing.
/// - `run` parses on the calling thread and returns when `stop` was called (from any thread) and
///   every queued packet was parsed: open connections are then closed, their waiting requests
///   emitted and their partial messages counted. The summary holds libpcap's own statistics:
///   `pcap_received`, and `kernel_dropped` / `interface_dropped` among the drops.
public final class LiveCapture: @unchecked Sendable {
    public let options: LiveCaptureOptions
    /// libpcap's name for the link type frames arrive in, e.g. `EN10MB`, `LINUX_SLL2`.
    public let linkType: String
    private let handle: OpaquePointer
    private let dlt: Int32
    private let queue: BoundedQueue<PacketBatch>
    private let lock = NSLock()
    private var stopping = false

    public init(options: LiveCaptureOptions) throws(ShadowError) {
        self.options = options
        let device = options.interface
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(device, &errbuf) else {
            throw ShadowError.captureDevice(interface: device, detail: Self.string(errbuf))
        }
        pcap_set_snaplen(handle, Int32(clamping: options.snapLength))
        pcap_set_immediate_mode(handle, options.immediateMode ? 1 : 0)
        pcap_set_buffer_size(handle, Int32(clamping: options.kernelBufferBytes))
        pcap_set_timeout(handle, 10)
        pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(handle)
        if status < 0 {
            let detail = status == PCAP_ERROR ? String(cString: pcap_geterr(handle)) : String(cString: pcap_statustostr(status))
            pcap_close(handle)
            throw ShadowError.captureDevice(interface: device, detail: detail)
        }
        if device == "any" { _ = pcap_set_datalink(handle, 276) }  // DLT_LINUX_SLL2: keeps the interface index
        if let filter = options.filter {
            var program = bpf_program()
            guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                let detail = String(cString: pcap_geterr(handle))
                pcap_close(handle)
                throw ShadowError.invalidArgument(flag: "--filter", detail: "'\(filter)': \(detail)")
            }
            defer { pcap_freecode(&program) }
            guard pcap_setfilter(handle, &program) == 0 else {
                let detail = String(cString: pcap_geterr(handle))
                pcap_close(handle)
                throw ShadowError.captureDevice(interface: device, detail: "cannot set filter: \(detail)")
            }
        }
        self.handle = handle
        dlt = pcap_datalink(handle)
        linkType = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "DLT_\(dlt)"
        queue = BoundedQueue(capacity: max(1 << 20, options.queueBytes))
    }

    deinit {
        pcap_close(handle)
    }

    /// Ends the capture: the capture thread stops reading, `run` finishes what was queued and returns.
    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        pcap_breakloop(handle)
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Captures until `stop`; `sink` gets finished exchanges, `tick` a status about every `tickInterval` s.
    /// Both are called on the calling thread.
    public func run(
        tickInterval: Double = 0.5, sink: ([CapturedExchange]) -> Void, tick: (LiveCaptureStatus) -> Void = { _ in }
    ) -> CaptureSummary {
        let reader = CaptureThread(handle: handle, queue: queue, isStopping: { [unowned self] in isStopping })
        Thread.startNamed("sd-pcap", stackSize: 1 << 20) { reader.run() }

        var processor = PacketProcessor(dlt: dlt, limits: options.limits)
        var emitted: Int64 = 0
        var lastTick = Date()
        while true {
            if let batch = queue.pop(timeout: 0.2) {
                batch.bytes.withUnsafeBytes { raw in
                    for packet in batch.packets {
                        let frame = UnsafeRawBufferPointer(rebasing: raw[packet.start..<packet.start + packet.length])
                        processor.process(frame: frame, timestampNs: packet.timestampNs)
                    }
                }
            } else if queue.isClosedAndEmpty {
                break
            } else {
                processor.sweep(nowNs: Self.wallClockNs())
            }
            if processor.hasExchanges {
                let exchanges = processor.takeExchanges()
                emitted += Int64(exchanges.count)
                sink(exchanges)
            }
            if Date().timeIntervalSince(lastTick) >= tickInterval {
                lastTick = Date()
                var drops = processor.tally.drops.filter { $0.value > 0 }.map { ($0.key, $0.value) }
                let lost = reader.queueOverflowPackets
                if lost > 0 { drops.append((.captureQueueFull, lost)) }
                tick(LiveCaptureStatus(
                    packets: processor.tally.packets, bytes: processor.tally.bytes, exchanges: emitted,
                    connections: processor.connections, queuedBytes: queue.queuedCost,
                    drops: drops.sorted { $0.1 > $1.1 }))
            }
        }
        processor.finish()
        let last = processor.takeExchanges()
        if !last.isEmpty { sink(last) }

        var counters = processor.tally.counters
        counters.add(DropReason.captureQueueFull, reader.queueOverflowPackets)
        if let stats = reader.finalStats {
            counters.add("pcap_received", Int64(stats.ps_recv))
            counters.add(DropReason.kernelDropped, Int64(stats.ps_drop))
            counters.add(DropReason.interfaceDropped, Int64(stats.ps_ifdrop))
        }
        return CaptureSummary(
            counters: counters, firstPacketNs: processor.firstPacketNs, lastPacketNs: processor.lastPacketNs,
            linkType: linkType)
    }

    static func wallClockNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Packets copied out of libpcap's ring, back to back in one buffer.
struct PacketBatch: Sendable {
    struct Packet: Sendable {
        var start: Int
        var length: Int
        var timestampNs: Int64
    }

    var bytes: [UInt8] = []
    var packets: [Packet] = []

    static let targetBytes = 1 << 20
    static let targetPackets = 4096

    var isFull: Bool { bytes.count >= Self.targetBytes || packets.count >= Self.targetPackets }
}

/// The capture thread's loop: read from libpcap, batch, offer to the queue, never wait on the parser.
private final class CaptureThread: @unchecked Sendable {
    let handle: OpaquePointer
    let queue: BoundedQueue<PacketBatch>
    let isStopping: () -> Bool
    private let lock = NSLock()
    private var overflow: Int64 = 0
    private var stats: pcap_stat?
    var batch = PacketBatch()

    init(handle: OpaquePointer, queue: BoundedQueue<PacketBatch>, isStopping: @escaping () -> Bool) {
        self.handle = handle
        self.queue = queue
        self.isStopping = isStopping
    }

    /// Packets dropped because the parser's queue was full.
    var queueOverflowPackets: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return overflow
    }

    /// libpcap's statistics, read when the capture thread ended.
    var finalStats: pcap_stat? {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    func run() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        while !isStopping() {
            let rc = pcap_dispatch(handle, Int32(PacketBatch.targetPackets), { user, header, data in
                guard let user, let header, let data else { return }
                let reader = Unmanaged<CaptureThread>.fromOpaque(user).takeUnretainedValue()
                reader.append(header.pointee, data)
            }, context.assumingMemoryBound(to: UInt8.self))
            if rc < 0 { break }
            if !batch.packets.isEmpty && (batch.isFull || rc == 0 || queue.queuedCost == 0) { hand() }
        }
        if !batch.packets.isEmpty { hand() }
        var ps = pcap_stat()
        let statsRead = pcap_stats(handle, &ps) == 0
        lock.lock()
        if statsRead { stats = ps }
        lock.unlock()
        queue.close()
    }

    private func append(_ header: pcap_pkthdr, _ data: UnsafePointer<UInt8>) {
        let length = Int(header.caplen)
        batch.packets.append(.init(start: batch.bytes.count, length: length, timestampNs: PcapFileImporter.nanoseconds(header.ts)))
        batch.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        if batch.isFull { hand() }
    }

    private func hand() {
        let full = batch
        batch = PacketBatch()
        if !queue.offer(full, cost: full.bytes.count) {
            lock.lock()
            overflow += Int64(full.packets.count)
            lock.unlock()
        }
    }
}
