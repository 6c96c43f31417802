import ShadowCore

/// Pairs one connection's requests with its responses, in order, and builds exchanges.
///
/// Contract: one slot per request head, in order; final responses fill slots in the same order
/// (HTTP/1.x answers in request order, pipelined or not). A slot is emitted once both its request
/// and its response are settled, so exchanges leave in completion order:
/// - request and response complete: an exchange with production latency = response end − request
///   end (ns, never negative);
/// - response lost (cut, oversized, never came by `flush`): the exchange without a response,
///   counted `request_without_response`;
/// - request lost, response complete: counted `response_without_request`.
struct HTTPExchangePairer {
    private enum Request {
        case reading
        case complete(RecordedRequest, startNs: Int64, endNs: Int64)
        case dropped
    }

    private enum Response {
        case waiting
        case complete(RecordedResponse, endNs: Int64)
        case dropped
    }

    private struct Slot {
        var request: Request = .reading
        var response: Response = .waiting
    }

    /// Names the connection in the exchanges built.
    struct Connection: Sendable {
        var id: Int64
        var client: String
        var server: String
    }

    private var slots: [Slot] = []
    private var head = 0
    private var responseCursor = 0

    /// Request heads still waiting for a response.
    var awaitingResponses: Int { slots.count - responseCursor }

    mutating func requestStarted() {
        slots.append(Slot())
    }

    mutating func requestCompleted(_ request: RecordedRequest, startNs: Int64, endNs: Int64) {
        guard let last = slots.indices.last, case .reading = slots[last].request else { return }
        slots[last].request = .complete(request, startNs: startNs, endNs: endNs)
    }

    mutating func requestDropped() {
        guard let last = slots.indices.last, case .reading = slots[last].request else { return }
        slots[last].request = .dropped
    }

    /// False when no request head was waiting (the caller counts it).
    mutating func responseCompleted(_ response: RecordedResponse, endNs: Int64) -> Bool {
        guard responseCursor < slots.count else { return false }
        slots[responseCursor].response = .complete(response, endNs: endNs)
        responseCursor += 1
        return true
    }

    /// Takes the request the next response answers out of the pairing, when it is complete and
    /// `accepts` it (an `Upgrade: h2c` request that a 101 answered continues as HTTP/2 stream 1);
    /// nil, with nothing changed, otherwise.
    mutating func takeAnsweredRequest(
        where accepts: (RecordedRequest) -> Bool
    ) -> (request: RecordedRequest, startNs: Int64, endNs: Int64)? {
        guard responseCursor < slots.count, case let .complete(request, startNs, endNs) = slots[responseCursor].request,
              accepts(request)
        else { return nil }
        slots.remove(at: responseCursor)
        return (request, startNs, endNs)
    }

    mutating func responseDropped() {
        guard responseCursor < slots.count else { return }
        slots[responseCursor].response = .dropped
        responseCursor += 1
    }

    /// Emits every settled slot at the front.
    mutating func emitReady(_ connection: Connection, into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        while head < slots.count {
            if case .reading = slots[head].request { break }
            if case .waiting = slots[head].response { break }
            settle(slots[head], connection, into: &outbox, tally: &tally)
            head += 1
        }
        compact()
    }

    /// The connection is over: every remaining request goes out, without a response if none came.
    mutating func flush(_ connection: Connection, into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        while head < slots.count {
            var slot = slots[head]
            if case .waiting = slot.response { slot.response = .dropped }
            if case .reading = slot.request { slot.request = .dropped }
            settle(slot, connection, into: &outbox, tally: &tally)
            head += 1
        }
        slots = []
        head = 0
        responseCursor = 0
    }

    private func settle(_ slot: Slot, _ connection: Connection, into outbox: inout [CapturedExchange], tally: inout CaptureTally) {
        switch (slot.request, slot.response) {
        case let (.complete(request, startNs, requestEndNs), .complete(response, responseEndNs)):
            tally.exchanges += 1
            outbox.append(CapturedExchange(
                captureTimeNs: startNs, connection: connection.id, client: connection.client, server: connection.server,
                request: request, response: response, productionLatencyNs: max(0, responseEndNs - requestEndNs)))
        case let (.complete(request, startNs, _), _):
            tally.exchanges += 1
            tally.add(.requestWithoutResponse)
            outbox.append(CapturedExchange(
                captureTimeNs: startNs, connection: connection.id, client: connection.client, server: connection.server,
                request: request, response: nil, productionLatencyNs: nil))
        case (_, .complete):
            tally.add(.responseWithoutRequest)
        default:
            break
        }
    }

    private mutating func compact() {
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            responseCursor -= head
            head = 0
        } else if head >= 32 && head * 2 >= slots.count {
            slots.removeFirst(head)
            responseCursor -= head
            head = 0
        }
    }
}
