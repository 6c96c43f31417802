/// Every bound the HTTP/2 decoders keep, so that no input makes them allocate without limit.
public struct HTTP2Limits: Hashable, Sendable {
    /// Largest frame payload ever read, whatever SETTINGS_MAX_FRAME_SIZE a peer announced.
    public var maxFrameSize: Int
    /// Largest header block (HEADERS or PUSH_PROMISE with its CONTINUATIONs) before decoding.
    public var maxHeaderBlockBytes: Int
    /// Largest decoded header list (RFC 7541 sizes: name + value + 32 per field).
    public var maxHeaderListSize: Int
    /// Largest HPACK dynamic table accepted, whatever SETTINGS_HEADER_TABLE_SIZE said.
    public var maxDynamicTableSize: Int
    /// Streams of one connection held open at once; more are counted and ignored.
    public var maxOpenStreams: Int
    /// Body bytes kept per message; beyond, the body is truncated and counted.
    public var maxBodyBytes: Int
    /// Bytes scanned for a frame boundary when a stream starts mid-connection.
    public var maxSyncScanBytes: Int

    public init(
        maxFrameSize: Int = 1 << 20, maxHeaderBlockBytes: Int = 256 << 10, maxHeaderListSize: Int = 64 << 10,
        maxDynamicTableSize: Int = 64 << 10, maxOpenStreams: Int = 1000, maxBodyBytes: Int = 1 << 20,
        maxSyncScanBytes: Int = 64 << 10
    ) {
        self.maxFrameSize = min(max(maxFrameSize, HTTP2FrameReader.defaultMaxFrameSize), HTTP2FrameReader.protocolMaxFrameSize)
        self.maxHeaderBlockBytes = max(maxHeaderBlockBytes, 0)
        self.maxHeaderListSize = max(maxHeaderListSize, 1)
        self.maxDynamicTableSize = max(maxDynamicTableSize, 0)
        self.maxOpenStreams = max(maxOpenStreams, 1)
        self.maxBodyBytes = max(maxBodyBytes, 0)
        self.maxSyncScanBytes = max(maxSyncScanBytes, 0)
    }
}
