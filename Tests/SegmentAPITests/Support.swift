import Foundation
import SegmentAPI
import Synchronization
import KommoSegmentTesting

/// Collects delivery events from the queue's handler.
final class DeliveryLog: Sendable {
    private let events = Mutex<[SegmentDeliveryEvent]>([])
    var handler: @Sendable (SegmentDeliveryEvent) -> Void { { event in self.events.withLock { $0.append(event) } } }
    var all: [SegmentDeliveryEvent] { events.withLock { $0 } }
    var delivered: [SegmentMessage] {
        all.flatMap { event -> [SegmentMessage] in
            if case .delivered(let m, _) = event { return m }
            return []
        }
    }
    var failed: [(SegmentMessage, SegmentError)] {
        all.flatMap { event -> [(SegmentMessage, SegmentError)] in
            if case .failed(let m, let e) = event { m.map { ($0, e) } } else { [] }
        }
    }
    var rejected: [(SegmentMessage, SegmentError)] {
        all.compactMap { if case .rejected(let m, let e) = $0 { (m, e) } else { nil } }
    }
}

/// Decodes a JSON body into a `JSONValue`.
func json(_ data: Data?) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: data ?? Data())
}

/// A deterministic message id sequence: m-1, m-2, ...
func sequentialIDs() -> @Sendable () -> String {
    let counter = LockedValue(0)
    return { "m-" + String(counter.withLock { $0 += 1; return $0 }) }
}

let testKey: SegmentWriteKey = "wk_TEST_secret_123"
let fixedDate = Date(timeIntervalSince1970: 1_796_033_700)  // 2026-11-30T10:15:00Z

func makeQueue(
    transport: ScriptedTransport, time: any TimeSource = ImmediateTimeSource(start: fixedDate),
    configuration: SegmentQueue.Configuration = .init(), log: DeliveryLog? = nil
) -> SegmentQueue {
    let client = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                   transport: transport, time: time)
    return SegmentQueue(client: client, configuration: configuration, time: time, random: { 0 },
                        makeMessageID: sequentialIDs(), onDelivery: log?.handler)
}

func ok() -> ScriptedTransport.Answer { .respond(status: 200, body: Data("{}".utf8)) }

/// The `batch` array of a recorded request.
func batchOf(_ recorded: RecordedRequest) throws -> [JSONValue] {
    try json(recorded.body)["batch"]?.arrayValue ?? []
}

/// The number of messages in a recorded request (JSONSerialization: much faster than decoding `JSONValue`s).
func batchCount(_ recorded: RecordedRequest) throws -> Int {
    let object = try JSONSerialization.jsonObject(with: recorded.body ?? Data()) as? [String: Any]
    return (object?["batch"] as? [Any])?.count ?? -1
}
