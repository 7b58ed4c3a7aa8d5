// pipeline-benchmark: how fast webhooks are parsed (and that the cost is linear in the body size), and how long
// KommoSegmentPipeline.receive takes to acknowledge a webhook. No network: Kommo is answered from the fixture
// directory of this repository, Segment by a client that accepts everything.
//
//   swift run -c release pipeline-benchmark [--acks N]
//   swift run -c release pipeline-benchmark --parse-only
//   swift run -c release pipeline-benchmark --intake [--webhooks N]
//   swift run -c release pipeline-benchmark --whole-path [--webhooks N]
//   swift run -c release pipeline-benchmark --tolerance-cost [--webhooks N]
//
// --parse-only: only the parser's figures (by body size, then by shape).
// --intake: N webhooks (default 2,000) of 1,000 items each are received while Kommo never answers; prints how many
// were accepted, how many were answered 503, and the process's peak resident memory.
// --whole-path: N sample webhooks (default 200,000) through parse → map → encode → batch on the caller's task, in
// events per second, and the peak resident memory (see WholePath.swift).
// --tolerance-cost: N won webhooks (default 4,000) through two pipelines, changeTimeTolerance off and at 5 s, in
// alternating rounds; webhooks per second for each (see ToleranceCost.swift).

import Foundation
import KommoSegment
import KommoSegmentTesting

/// Accepts every batch at once.
struct AcceptingSegment: SegmentClient {
    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        SegmentDeliveryReceipt(status: 200, requestBytes: batch.estimatedBodyBytes)
    }
}

/// A webhook body with `count` lead status items (the won sample's fields), form-encoded as Kommo sends it.
func webhookBody(items count: Int, leadBase: Int = 24_000_017) -> Data {
    var text = "account%5Bsubdomain%5D=acme&account%5Bid%5D=31234567"
        + "&account%5B_links%5D%5Bself%5D=https%3A%2F%2Facme.kommo.com"
    for i in 0..<count {
        let p = "&leads%5Bstatus%5D%5B\(i)%5D"
        text += "\(p)%5Bid%5D=\(leadBase + i)\(p)%5Bname%5D=ACME+Retail+%E2%80%94+annual+plan+%C2%AB%D0%9F%D0%BB%D0%B0%D0%BD%C2%BB"
            + "\(p)%5Bstatus_id%5D=142\(p)%5Bold_status_id%5D=61000005\(p)%5Bpipeline_id%5D=7654321"
            + "\(p)%5Bprice%5D=12500\(p)%5Bresponsible_user_id%5D=9000001\(p)%5Blast_modified%5D=1768912200"
            + "\(p)%5Bupdated_at%5D=1768912200\(p)%5Baccount_id%5D=31234567"
            + "\(p)%5Bcustom_fields%5D%5B0%5D%5Bid%5D=1100001\(p)%5Bcustom_fields%5D%5B0%5D%5Bname%5D=Budget+range"
            + "\(p)%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D=10k-25k"
            + "\(p)%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Benum%5D=5500012"
    }
    return Data(text.utf8)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

var acks = 2_000
var intake = false
var parseOnly = false
var wholePath = false
var toleranceCost = false
var intakeWebhooks: Int?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--intake": intake = true; continue
    case "--parse-only": parseOnly = true; continue
    case "--whole-path": wholePath = true; continue
    case "--tolerance-cost": toleranceCost = true; continue
    default: break
    }
    guard argument == "--acks" || argument == "--webhooks", let n = arguments.next().flatMap(Int.init), n > 0 else {
        FileHandle.standardError.write(Data(("usage: pipeline-benchmark [--acks N] | --parse-only | --intake [--webhooks N]"
            + " | --whole-path [--webhooks N] | --tolerance-cost [--webhooks N]\n").utf8))
        exit(2)
    }
    if argument == "--acks" { acks = n } else { intakeWebhooks = n }
}

/// A Kommo that never answers: every request waits until it is cancelled.
struct SilentKommo: HTTPTransport {
    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        try await Task.sleep(for: .seconds(86_400))
        throw CancellationError()
    }
}

/// The peak resident set size of this process, in megabytes (`VmHWM` of /proc/self/status).
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
    return kilobytes / 1_024
}

if toleranceCost {
    do {
        let result = try await ToleranceCost.run(webhooks: intakeWebhooks ?? 4_000)
        let off = Double(result.webhooks) / result.offSeconds, on = Double(result.webhooks) / result.onSeconds
        print(String(format: "tolerance-cost: webhooks=%d off_webhooks_per_second=%.0f on_webhooks_per_second=%.0f "
                     + "on_over_off=%.3f", result.webhooks, off, on, on / off))
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("tolerance cost failed: \(error)\n".utf8))
        exit(1)
    }
}

if wholePath {
    do {
        let result = try await WholePath.run(webhooks: intakeWebhooks ?? 200_000)
        print(String(format: "whole-path: webhooks=%d events=%d messages=%d seconds=%.3f events_per_second=%.0f "
                     + "messages_per_second=%.0f peak_rss_mb=%.1f", result.webhooks, result.events, result.messages,
                     result.seconds, Double(result.events) / result.seconds, Double(result.messages) / result.seconds,
                     result.peakRSS))
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("whole path failed: \(error)\n".utf8))
        exit(1)
    }
}

if intake {
    let intakeWebhooks = intakeWebhooks ?? 2_000
    let secret = "benchmark-secret-0123456789abcdef"
    let host: KommoAccountHost
    let pipeline: KommoSegmentPipeline
    do {
        host = try KommoAccountHost(subdomain: "acme")
        let kommo = HTTPKommoClient(host: host, tokenProvider: LongLivedToken("benchmark"), transport: SilentKommo())
        let account = KommoSegmentAccount(accountID: 31_234_567, kommo: kommo, segment: AcceptingSegment(),
                                          secret: WebhookSecret(secret))
        pipeline = try KommoSegmentPipeline(accounts: [account])
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
    let baseline = peakResidentMegabytes()
    var accepted = 0, busy = 0, bytes = 0
    await withTaskGroup(of: Void.self) { group in
        group.addTask { try? await pipeline.run() }
        for i in 0..<intakeWebhooks {
            let body = webhookBody(items: 1_000, leadBase: 30_000_000 + i * 1_000)
            bytes += body.count
            let acknowledgement = await pipeline.receive(body: body, contentType: "application/x-www-form-urlencoded",
                                                         requestTarget: "/kommo?secret=\(secret)")
            if acknowledgement.isAccepted { accepted += 1 } else if acknowledgement.outcome == .busy { busy += 1 }
        }
        _ = await pipeline.shutdown(timeout: .seconds(1))
        await group.waitForAll()
    }
    print(String(format: "intake: webhooks=%d items_each=1000 body_mb_total=%.0f accepted=%d answered_503=%d "
                 + "baseline_rss_mb=%.1f peak_rss_mb=%.1f", intakeWebhooks, Double(bytes) / 1_048_576, accepted, busy,
                 baseline, peakResidentMegabytes()))
    exit(0)
}

let clock = ContinuousClock()

// 1. Parsing: the same item repeated; time per byte should not grow with the body.
let parser = KommoWebhookParser()
let form = "application/x-www-form-urlencoded"
print("parser: items  body_bytes  parses  microseconds_per_parse  megabytes_per_second")
for items in [1, 10, 100, 1_000] {
    let body = webhookBody(items: items)
    let repetitions = max(2_000_000 / body.count, 3)
    var events = 0
    let elapsed = clock.measure {
        for _ in 0..<repetitions {
            events += (try? parser.parse(body: body, contentType: form))?.events.count ?? 0
        }
    }
    guard events == items * repetitions else {
        FileHandle.standardError.write(Data("parse failed for \(items) items\n".utf8))
        exit(1)
    }
    let perParse = seconds(elapsed) / Double(repetitions)
    print(String(format: "parser: %5d  %10d  %6d  %22.1f  %20.1f", items, body.count, repetitions, perParse * 1e6,
                 Double(body.count) / perParse / 1_048_576))
}

// 1a. The bundled sample webhooks (1 to 3 KB each), every one parsed in turn: the fixed cost of a parse dominates.
do {
    let samples = try Fixtures.sampleWebhookNames.map { try Fixtures.webhook($0) }
    let bytesPerRound = samples.reduce(0) { $0 + $1.count }
    let rounds = max(40_000_000 / bytesPerRound, 3)  // about 0.3 s: long enough to average out a noisy machine
    var events = 0
    let elapsed = clock.measure {
        for _ in 0..<rounds {
            for body in samples { events += (try? parser.parse(body: body, contentType: form))?.events.count ?? 0 }
        }
    }
    let perRound = seconds(elapsed) / Double(rounds)
    print(String(format: "samples: files=%d bytes=%d events=%d microseconds_per_file=%.1f megabytes_per_second=%.1f",
                 samples.count, bytesPerRound, events / rounds, perRound * 1e6 / Double(samples.count),
                 Double(bytesPerRound) / perRound / 1_048_576))
} catch {
    FileHandle.standardError.write(Data("the bundled sample webhooks are missing: \(error)\n".utf8))
    exit(1)
}

// 1b. Shapes: bodies of about 0.9 MB (and of half that) whose keys are long, many, deep or numerous. The cost per KB
// of each stays the same at both sizes (linear), and within a few times that of a plain body of the same size.
print("shapes: size_kb  microseconds_per_kb  ratio_to_plain  outcome  shape")
for (scale, plainItems) in [(0.5, 500), (1.0, 1_000)] {
    var plainMicrosecondsPerKB = 0.0
    for shape in BodyShapes.all(plain: webhookBody(items: plainItems), scale: scale) {
        let repetitions = 5
        var outcome = ""
        let elapsed = clock.measure {
            for _ in 0..<repetitions {
                do throws(KommoWebhookError) {
                    outcome = "\(try parser.parse(body: shape.body, contentType: form).events.count) events"
                } catch {
                    outcome = error.code.rawValue
                }
            }
        }
        guard outcome.hasSuffix("events") == shape.parses else {
            FileHandle.standardError.write(Data("shape '\(shape.name)' gave \(outcome)\n".utf8))
            exit(1)
        }
        let microsecondsPerKB = seconds(elapsed) / Double(repetitions) * 1e6 / (Double(shape.body.count) / 1_024)
        if plainMicrosecondsPerKB == 0 { plainMicrosecondsPerKB = microsecondsPerKB }
        print(String(format: "shapes: %7d  %19.2f  %14.2f  %@  %@", shape.body.count / 1_024, microsecondsPerKB,
                     microsecondsPerKB / plainMicrosecondsPerKB, outcome, shape.name))
    }
}

if parseOnly { exit(0) }

// 2. Acknowledgement latency of receive(), with processing going on in the background.
let kommoTransport: KommoFixtureTransport
do {
    kommoTransport = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory())
} catch {
    FileHandle.standardError.write(Data("the bundled Kommo API fixtures are missing: \(error)\n".utf8))
    exit(1)
}
var kommoConfiguration = HTTPKommoClient.Configuration()
kommoConfiguration.rateLimit = KommoRateLimiter.Limit(requestsPerSecond: 100_000, burst: 1_000)
let host: KommoAccountHost
do {
    host = try KommoAccountHost(subdomain: "acme")
} catch {
    exit(1)
}
let kommo = HTTPKommoClient(host: host, tokenProvider: LongLivedToken("benchmark"), configuration: kommoConfiguration,
                            transport: kommoTransport)
let secret = "benchmark-secret-0123456789abcdef"
let account = KommoSegmentAccount(accountID: 31_234_567, kommo: kommo, segment: AcceptingSegment(),
                                  secret: WebhookSecret(secret))
let pipeline: KommoSegmentPipeline
do {
    pipeline = try KommoSegmentPipeline(accounts: [account])
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
let latencies: [Double] = await withTaskGroup(of: Void.self) { group -> [Double] in
group.addTask { try? await pipeline.run() }
var latencies: [Double] = []
latencies.reserveCapacity(acks)
for i in 0..<acks {
    // A different lead each time, so the deduplication store never short-cuts the work.
    let body = webhookBody(items: 1, leadBase: 25_000_000 + i)
    let start = clock.now
    let acknowledgement = await pipeline.receive(body: body, contentType: form, requestTarget: "/kommo?secret=\(secret)")
    latencies.append(seconds(clock.now - start))
    guard acknowledgement.isAccepted else {
        FileHandle.standardError.write(Data("not accepted: \(acknowledgement)\n".utf8))
        exit(1)
    }
}
_ = await pipeline.shutdown()
await group.waitForAll()
return latencies.sorted()
}
func percentile(_ p: Double, of sorted: [Double]) -> Double {
    sorted[min(Int(Double(sorted.count) * p), sorted.count - 1)] * 1e3
}
print(String(format: "receive: acknowledgements=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", acks, percentile(0.5, of: latencies),
             percentile(0.99, of: latencies), (latencies.last ?? 0) * 1e3))
let counters = await pipeline.statistics
print("receive: webhooks=\(counters.webhooks) events=\(counters.events) skipped=\(counters.eventsSkipped) "
    + "failed=\(counters.eventsFailed) kommo_requests_counted_by_transport=\(kommoTransport.requestCount)")
