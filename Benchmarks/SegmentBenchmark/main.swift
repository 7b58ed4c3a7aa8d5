// segment-benchmark: throughput and memory of SegmentQueue (enqueue + batching + JSON encoding + body assembly)
// into a no-op transport that answers 200 at once. No network.
//
//   swift run -c release segment-benchmark [--count N] [--json-out FILE] [--dump N]
//
// Prints messages per second, bytes per HTTP request and the process's peak resident memory. The messages are the
// deal-sized track calls of Benchmarks/deal_messages.py, built inside the timed loop as the Python peer does.

import Foundation
import SegmentAPI
import Synchronization

/// A transport that reads nothing and answers 200 with an empty body; it counts requests and bytes.
final class NoOpTransport: HTTPTransport {
    private let totals = Mutex<(requests: Int, bytes: Int)>((0, 0))
    var requests: Int { totals.withLock { $0.requests } }
    var bytes: Int { totals.withLock { $0.bytes } }
    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        totals.withLock { $0.requests += 1; $0.bytes += body?.count ?? 0 }
        return (HTTPResponse(status: 200), Data())
    }
}

/// Message number `i`, field for field the `deal_message(i)` of Benchmarks/deal_messages.py.
func dealMessage(_ i: Int, timestamp: Date) -> SegmentMessage {
    let email = "customer\(i)@example.com"
    let digits = String(i)
    let messageID = "00000000-0000-5000-8000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    return .track(
        "Deal Won", userID: email,
        properties: [
            "deal_id": .int(24_000_000 + Int64(i)), "deal_name": .string("ACME Retail expansion \(i)"),
            "pipeline_id": 7_654_321, "pipeline": "Sales", "from_stage_id": 61_000_005,
            "from_stage": "Contract discussion", "to_stage_id": 142, "to_stage": "Closed - won", "amount": 4800,
            "currency": "USD", "owner_id": 9_000_001, "owner": "maria.lopez@example.com", "plan": "Business",
            "revenue": 4800,
        ],
        messageID: messageID, timestamp: timestamp,
        context: ["traits": ["email": .string(email), "name": "Olivia Bennett"], "groupId": "36000005"])
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), or nil elsewhere.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first
        return kilobytes.map { $0 * 1024 }
    }
    return nil
}

struct Options {
    var count = 1_000_000
    var jsonOut: String?
    var dump: Int?
}

func parseOptions() -> Options? {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        switch argument {
        case "--count": guard let n = arguments.next().flatMap(Int.init), n > 0 else { return nil }; options.count = n
        case "--json-out": guard let path = arguments.next() else { return nil }; options.jsonOut = path
        case "--dump": guard let n = arguments.next().flatMap(Int.init), n >= 0 else { return nil }; options.dump = n
        default: return nil
        }
    }
    return options
}

guard let options = parseOptions() else {
    FileHandle.standardError.write(Data("usage: segment-benchmark [--count N] [--json-out FILE] [--dump N]\n".utf8))
    exit(2)
}

let timestamp = Date(timeIntervalSince1970: 1_796_033_700)  // 2026-11-30T10:15:00.000Z
let encoder = SegmentWireEncoder(library: .kommoSegment)

if let dump = options.dump {
    // The messages as the SDK writes them (context.library added), for comparison with deal_messages.py --sort-keys.
    for i in 0..<dump {
        FileHandle.standardOutput.write(Data(encoder.encode(dealMessage(i, timestamp: timestamp)) + [0x0A]))
    }
    exit(0)
}

let transport = NoOpTransport()
let client = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: "bench-write-key"),
                               transport: transport)
let delivered = Mutex(0)
let queue = SegmentQueue(client: client, onDelivery: { event in
    if case .delivered(let messages, _) = event { delivered.withLock { $0 += messages.count } }
})

let start = ContinuousClock.now
// The queue's run() delivers; the producer runs beside it, off the main actor, as a service's handlers do.
do {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await queue.run() }
        group.addTask {
            for i in 0..<options.count {
                try await queue.enqueueWaiting(dealMessage(i, timestamp: timestamp))
            }
            await queue.flush()
            _ = await queue.shutdown(timeout: .seconds(30))
        }
        try await group.waitForAll()
    }
} catch {
    FileHandle.standardError.write(Data("enqueue failed: \(error)\n".utf8))
    exit(1)
}
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let stats = await queue.statistics
let rate = Double(options.count) / seconds
let bytesPerRequest = transport.requests > 0 ? transport.bytes / transport.requests : 0
let peak = peakResidentBytes()
let messageBytes = encoder.encode(dealMessage(0, timestamp: timestamp)).count

print("segment-benchmark: messages=\(options.count) seconds=\(String(format: "%.3f", seconds)) "
    + "messages_per_second=\(String(format: "%.0f", rate)) requests=\(transport.requests) "
    + "bytes_per_request=\(bytesPerRequest) message_bytes=\(messageBytes) largest_request=\(stats.largestRequestBytes) "
    + "delivered=\(delivered.withLock { $0 }) failed=\(stats.failed) "
    + "peak_rss_mb=\(peak.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "n/a")")

if let path = options.jsonOut {
    let result: JSONValue = [
        "implementation": .string("kommo-segment-swift \(SDKInfo.version)"),
        "messages": .int(Int64(options.count)), "seconds": .double(seconds), "messages_per_second": .double(rate),
        "requests": .int(Int64(transport.requests)), "bytes_per_request": .int(Int64(bytesPerRequest)),
        "message_bytes": .int(Int64(messageBytes)), "delivered": .int(Int64(delivered.withLock { $0 })),
        "peak_rss_bytes": peak.map { .int(Int64($0)) } ?? .null,
    ]
    do {
        try Data(result.description.utf8).write(to: URL(fileURLWithPath: path))
    } catch {
        FileHandle.standardError.write(Data("could not write \(path): \(error)\n".utf8))
        exit(1)
    }
}
guard delivered.withLock({ $0 }) == options.count else {
    FileHandle.standardError.write(Data("not every message was delivered\n".utf8))
    exit(1)
}
