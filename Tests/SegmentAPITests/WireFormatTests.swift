import Foundation
import SegmentAPI
import Testing
import KommoSegmentTesting

@Suite("Segment wire format", .timeLimit(.minutes(1)))
struct WireFormatTests {
    let encoder = SegmentWireEncoder(library: SegmentLibraryInfo(name: "kommo-segment-swift", version: "0.1.0"))
    let library: JSONValue = ["name": "kommo-segment-swift", "version": "0.1.0"]

    @Test("identify")
    func identify() throws {
        let message = SegmentMessage.identify(userID: "olivia@example.com",
                                              traits: ["email": "olivia@example.com", "mrr": 4800, "customer": true],
                                              messageID: "id-1", timestamp: fixedDate)
        let expected: JSONValue = [
            "type": "identify", "userId": "olivia@example.com", "messageId": "id-1",
            "timestamp": "2026-11-30T10:15:00.000Z", "context": ["library": library],
            "traits": ["email": "olivia@example.com", "mrr": 4800, "customer": true],
        ]
        #expect(try json(Data(encoder.encode(message))) == expected)
    }

    @Test("track keeps integers as integers and merges context.library into the caller's context")
    func track() throws {
        let message = SegmentMessage.track(
            "Deal Won", userID: "u1", properties: ["amount": 4800, "revenue": 4800.5, "plan": nil],
            messageID: "id-2", timestamp: fixedDate,
            context: ["traits": ["email": "a@example.com"], "groupId": "36000005", "library": "overridden"],
            integrations: ["All": true, "Intercom": false])
        let bytes = encoder.encode(message)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""amount":4800,"#))
        #expect(!text.contains("4800.0"))
        let expected: JSONValue = [
            "type": "track", "userId": "u1", "event": "Deal Won", "messageId": "id-2",
            "timestamp": "2026-11-30T10:15:00.000Z",
            "properties": ["amount": 4800, "revenue": 4800.5, "plan": nil],
            "context": ["traits": ["email": "a@example.com"], "groupId": "36000005", "library": library],
            "integrations": ["All": true, "Intercom": false],
        ]
        #expect(try json(Data(bytes)) == expected)
    }

    @Test("page, screen, group and alias carry their own fields")
    func otherCalls() throws {
        let page = SegmentMessage.page("Pricing", category: "Docs", anonymousID: "anon-1",
                                       properties: ["path": "/pricing"], messageID: "p", timestamp: fixedDate)
        #expect(try json(Data(encoder.encode(page))) == [
            "type": "page", "anonymousId": "anon-1", "name": "Pricing", "category": "Docs",
            "properties": ["path": "/pricing"], "messageId": "p", "timestamp": "2026-11-30T10:15:00.000Z",
            "context": ["library": library],
        ])
        let screen = SegmentMessage.screen("Home", userID: "u", messageID: "s", timestamp: fixedDate)
        #expect(try json(Data(encoder.encode(screen))) == [
            "type": "screen", "userId": "u", "name": "Home", "properties": [:], "messageId": "s",
            "timestamp": "2026-11-30T10:15:00.000Z", "context": ["library": library],
        ])
        let group = SegmentMessage.group("36000005", userID: "u", traits: ["name": "Northwind Traders LLC"],
                                         messageID: "g", timestamp: fixedDate)
        #expect(try json(Data(encoder.encode(group))) == [
            "type": "group", "userId": "u", "groupId": "36000005", "traits": ["name": "Northwind Traders LLC"],
            "messageId": "g", "timestamp": "2026-11-30T10:15:00.000Z", "context": ["library": library],
        ])
        let alias = SegmentMessage.alias(userID: "new", previousID: "old", messageID: "a", timestamp: fixedDate)
        #expect(try json(Data(encoder.encode(alias))) == [
            "type": "alias", "userId": "new", "previousId": "old", "messageId": "a",
            "timestamp": "2026-11-30T10:15:00.000Z", "context": ["library": library],
        ])
    }

    @Test("output is deterministic and keys are sorted")
    func deterministic() {
        let message = SegmentMessage.track("E", userID: "u", properties: ["z": 1, "a": 2, "m": ["y": 1, "b": 2]],
                                           messageID: "x", timestamp: fixedDate, context: ["z": 1, "a": 2])
        let text = String(decoding: encoder.encode(message), as: UTF8.self)
        #expect(text == #"{"context":{"a":2,"library":{"name":"kommo-segment-swift","version":"0.1.0"},"z":1},"#
            + #""event":"E","messageId":"x","properties":{"a":2,"m":{"b":2,"y":1},"z":1},"#
            + #""timestamp":"2026-11-30T10:15:00.000Z","type":"track","userId":"u"}"#)
        #expect(encoder.encode(message) == encoder.encode(message))
    }

    @Test("messages round-trip through Codable")
    func codable() throws {
        let message = SegmentMessage.track("Deal Won", userID: "u", properties: ["deal_id": 24000017],
                                           messageID: "x", timestamp: fixedDate, context: ["ip": "0.0.0.0"])
        let decoded = try JSONDecoder().decode(SegmentMessage.self, from: Data(encoder.encode(message)))
        var expected = message
        expected.context["library"] = library
        #expect(decoded == expected)
    }

    @Test("the batch envelope has batch, sentAt and writeKey, and the request carries Basic auth")
    func envelopeAndHeaders() async throws {
        let transport = ScriptedTransport([.respond(status: 200)])
        let client = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                       transport: transport, wallClock: .fixed(fixedDate.addingTimeInterval(2.123)))
        let messages = try [
            EncodedSegmentMessage(.identify(userID: "u", messageID: "1", timestamp: fixedDate), encoder: encoder),
            EncodedSegmentMessage(.track("E", userID: "u", messageID: "2", timestamp: fixedDate), encoder: encoder),
        ]
        let receipt = try await client.send(SegmentBatch(messages), retryCount: 0)
        #expect(receipt.status == 200)
        let request = try #require(transport.requests.first)
        #expect(request.request.method == .post)
        #expect(request.request.url.absoluteString == "https://api.segment.io/v1/batch")
        #expect(request.request.headers["Authorization"]
            == "Basic " + Data("wk_TEST_secret_123:".utf8).base64EncodedString())
        #expect(request.request.headers["Content-Type"] == "application/json")
        #expect(request.request.headers["User-Agent"] == "kommo-segment-swift/\(SDKInfo.version)")
        #expect(request.request.headers["X-Retry-Count"] == nil)
        #expect(request.request.timeout == .seconds(15))
        let body = try json(request.body)
        #expect(body.objectValue?.keys.sorted() == ["batch", "sentAt", "writeKey"])
        #expect(body["sentAt"] == "2026-11-30T10:15:02.123Z")
        #expect(body["writeKey"] == "wk_TEST_secret_123")
        #expect(body["batch"]?.arrayValue?.compactMap { $0["messageId"]?.stringValue } == ["1", "2"])
        #expect(receipt.requestBytes == request.body?.count)
    }

    @Test("endpoints: US, EU and custom origins; bad origins are refused")
    func endpoints() throws {
        #expect(SegmentEndpoint.us.batchURL.absoluteString == "https://api.segment.io/v1/batch")
        #expect(SegmentEndpoint.eu.batchURL.absoluteString == "https://events.eu1.segmentapis.com/v1/batch")
        let rudder = try SegmentEndpoint(origin: #require(URL(string: "https://acme.dataplane.rudderstack.com")))
        #expect(rudder.batchURL.absoluteString == "https://acme.dataplane.rudderstack.com/v1/batch")
        let proxy = try SegmentEndpoint(origin: #require(URL(string: "http://127.0.0.1:8080/segment")))
        #expect(proxy.batchURL.absoluteString == "http://127.0.0.1:8080/segment/v1/batch")
        // Plain http sends the write key in clear: loopback only, unless explicitly allowed.
        #expect(throws: SegmentError.self) { try SegmentEndpoint(origin: #require(URL(string: "http://rudder.internal:8080"))) }
        let privateNetwork = try SegmentEndpoint(origin: #require(URL(string: "http://rudder.internal:8080")),
                                           allowsInsecureHTTP: true)
        #expect(privateNetwork.batchURL.absoluteString == "http://rudder.internal:8080/v1/batch")
        #expect(try SegmentEndpoint(origin: #require(URL(string: "http://localhost:9000"))).origin.host == "localhost")
        for bad in ["ftp://host", "https://host/?q=1", "https://user:pw@host", "/relative"] {
            #expect(throws: SegmentError.self) { try SegmentEndpoint(origin: #require(URL(string: bad))) }
        }
    }

    @Test("the write key never appears in descriptions")
    func secretHidden() {
        let configuration = SegmentClientConfiguration(writeKey: testKey)
        #expect("\(testKey)" == "<redacted>")
        #expect(String(reflecting: testKey) == "SegmentWriteKey(<redacted>)")
        #expect(!String(describing: configuration).contains("secret"))
        #expect(!String(reflecting: configuration).contains("secret"))
    }
}

@Suite("Segment message validation", .timeLimit(.minutes(1)))
struct ValidationTests {
    @Test("rules are enforced with typed errors", arguments: [
        (SegmentMessage.identify(), SegmentError.Code.missingIdentity),
        (.identify(userID: "  "), .missingIdentity),
        (.track("", userID: "u"), .missingEvent),
        (.group("", userID: "u"), .missingGroupID),
        (.group("g"), .missingIdentity),
        (.alias(userID: "u", previousID: ""), .missingPreviousID),
        (.alias(userID: "", previousID: "p"), .missingIdentity),
        (.track("E", userID: "u", messageID: String(repeating: "x", count: 101)), .invalidMessageID),
        (.track("E", userID: "u", messageID: ""), .invalidMessageID),
        (SegmentMessage(type: SegmentCallType(rawValue: "bogus"), userID: "u"), .invalidType),
    ])
    func invalid(message: SegmentMessage, code: SegmentError.Code) {
        #expect(throws: SegmentError.self) { try message.validate() }
        do { try message.validate() } catch { #expect(error.code == code) }
    }

    @Test("valid messages pass", arguments: [
        SegmentMessage.identify(anonymousID: "a"),
        .track("E", userID: "u", messageID: String(repeating: "x", count: 100)),
        .group("g", anonymousID: "a"),
        .alias(userID: "u", previousID: "p"),
        .page(userID: "u"),
    ])
    func valid(message: SegmentMessage) throws {
        try message.validate()
    }

    @Test("a message over 32,768 serialized bytes is refused; one at the limit is accepted")
    func sizeLimit() throws {
        let encoder = SegmentWireEncoder(library: .kommoSegment)
        let base = SegmentMessage.track("E", userID: "u", properties: ["pad": ""], messageID: "x", timestamp: fixedDate)
        let overhead = encoder.encode(base).count
        var atLimit = base
        atLimit.properties = ["pad": .string(String(repeating: "a", count: 32_768 - overhead))]
        #expect(try EncodedSegmentMessage(atLimit, encoder: encoder).json.count == 32_768)
        var over = base
        over.properties = ["pad": .string(String(repeating: "a", count: 32_769 - overhead))]
        #expect(throws: SegmentError.self) { try EncodedSegmentMessage(over, encoder: encoder) }
        do { _ = try EncodedSegmentMessage(over, encoder: encoder) } catch { #expect(error.code == .messageTooLarge) }
    }

    @Test("status dispositions follow the reference table", arguments: [
        (200, SegmentResponseDisposition.success), (204, .success), (301, .drop), (400, .drop), (401, .drop),
        (403, .drop), (404, .drop), (408, .retry), (410, .retry), (413, .drop), (422, .drop), (429, .rateLimited),
        (460, .retry), (499, .drop), (500, .retry), (501, .drop), (502, .retry), (503, .retry), (504, .retry),
        (505, .drop), (511, .drop), (599, .retry),
    ])
    func dispositions(status: Int, disposition: SegmentResponseDisposition) {
        #expect(SegmentResponseDisposition(status: status) == disposition)
    }
}
