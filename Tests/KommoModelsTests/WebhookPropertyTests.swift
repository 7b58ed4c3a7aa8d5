import Foundation
import JSONCore
import KommoModels
import Testing
import KommoSegmentTesting

/// The SplitMix64 generator: a tiny, seeded source so every random case can be replayed from its seed.
struct WebhookSplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (modulo bias is irrelevant here; reproducibility is what matters).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    /// `true` with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    /// One element of a non-empty array.
    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }
    /// The array in a random order (Fisher–Yates).
    mutating func shuffled<T>(_ array: [T]) -> [T] {
        var copy = array
        var index = copy.count - 1
        while index > 0 {
            copy.swapAt(index, below(index + 1))
            index -= 1
        }
        return copy
    }
}

/// Builds random webhook bodies together with the value the parser must return for them.
struct RandomWebhook {
    typealias Pair = (path: [String], value: String)

    private static let pieces = [
        "a", "b", "Z", "0", "7", " ", "&", "=", "+", "%", "[", "]", "#", "?", "/", ";", ",", "-", "_", ".", "~",
        "\"", "'", "\\", "\n", "\t", "\r", "ж", "Ё", "й", "—", "«", "»", "€", "中", "🚀", "👍🏽", "🇷🇺", "é", "e\u{301}",
        "\u{0}", "\u{7F}", "%2B", "%zz", "a=b&c", "[0]",
    ]

    var rng: WebhookSplitMix64
    var pairs: [Pair] = []
    /// Each section's key and its items (index, event), in generation order.
    var sections: [(entity: String, action: String, items: [(index: Int, event: KommoWebhookEvent)])] = []
    var account = KommoWebhookAccount(id: 0, subdomain: "x")

    init(seed: UInt64) {
        rng = WebhookSplitMix64(seed: seed)
    }

    // MARK: Random values

    mutating func text(maxPieces: Int = 6) -> String {
        (0..<rng.below(maxPieces + 1)).map { _ in rng.pick(Self.pieces) }.joined()
    }

    /// A non-empty key without brackets that is not one of the reserved top-level names.
    mutating func key() -> String {
        var key = text(maxPieces: 4).replacingOccurrences(of: "[", with: "(").replacingOccurrences(of: "]", with: ")")
        if key.isEmpty || ["account", "leads", "contacts"].contains(key) { key += "k" }
        return key
    }

    mutating func id() -> Int64 { rng.chance(5) ? Int64.max : Int64(rng.below(1_000_000_000_000)) }

    mutating func maybe<T>(_ make: (inout RandomWebhook) -> T) -> T? { rng.chance(60) ? make(&self) : nil }

    /// Distinct sparse indexes, sorted ascending.
    mutating func indexes(count: Int) -> [Int] {
        var set = Set<Int>()
        while set.count < count { set.insert(rng.below(rng.chance(20) ? 100_000 : 12)) }
        return set.sorted()
    }

    // MARK: Sections

    mutating func build() {
        account = KommoWebhookAccount(id: id(), subdomain: text() + "s",
                                      baseURL: rng.chance(50) ? URL(string: "https://acme.kommo.com") : nil)
        pairs.append((["account", "id"], String(account.id)))
        pairs.append((["account", "subdomain"], account.subdomain))
        if let url = account.baseURL { pairs.append((["account", "_links", "self"], url.absoluteString)) }

        var used = Set<String>()
        for _ in 0..<rng.below(6) {
            let kind = rng.below(4)
            let entity = kind == 0 ? "leads" : kind == 1 ? "contacts" : kind == 2 ? rng.pick(["leads", "contacts"])
                : rng.pick(["task", "unsorted", "customers"] + [key()])
            let action: String
            switch (kind, entity) {
            case (2, _): action = "note"
            case (_, "leads"): action = rng.pick(["add", "update", "delete", "restore", "status", "responsible", "x"])
            case (_, "contacts"): action = rng.pick(["add", "update", "delete", "restore"])
            default: action = rng.chance(70) ? rng.pick(["add", "update", "delete"]) : key()
            }
            guard used.insert(entity + "\u{1}" + action).inserted else { continue }
            var items: [(index: Int, event: KommoWebhookEvent)] = []
            for index in indexes(count: 1 + rng.below(3)) {
                var itemPairs: [Pair] = []
                let event: KommoWebhookEvent
                switch (entity, action) {
                case ("leads", "note"), ("contacts", "note"): event = .note(note(entity, &itemPairs))
                case ("leads", _): event = .lead(lead(action, &itemPairs))
                case ("contacts", _): event = contact(action, &itemPairs)
                default: event = .unknown(unknown(entity, action, String(index), &itemPairs))
                }
                pairs += itemPairs.map { ([entity, action, String(index)] + $0.path, $0.value) }
                items.append((index, event))
            }
            sections.append((entity, action, items))
        }
    }

    private mutating func int(_ key: String, _ pairs: inout [Pair]) -> Int64? {
        guard let value = maybe({ $0.id() }) else { return nil }
        pairs.append(([key], String(value)))
        return value
    }

    private mutating func date(_ key: String, _ pairs: inout [Pair]) -> Date? {
        guard let seconds = maybe({ Int64($0.rng.below(2_000_000_000)) }) else { return nil }
        pairs.append(([key], String(seconds)))
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private mutating func string(_ key: String, _ pairs: inout [Pair]) -> String? {
        guard let value = maybe({ $0.text() }) else { return nil }
        pairs.append(([key], value))
        return value
    }

    private mutating func decimal(_ key: String, _ pairs: inout [Pair]) -> Decimal? {
        guard rng.chance(60) else { return nil }
        var text = String(rng.below(10_000_000))
        if rng.chance(40) { text += "." + String(rng.below(100)) }
        if rng.chance(10) { text = "-" + text }
        pairs.append(([key], text))
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    private mutating func tags(_ pairs: inout [Pair]) -> [WebhookTag] {
        guard rng.chance(50) else { return [] }
        return indexes(count: rng.below(4)).map { index in
            let tag = WebhookTag(id: id(), name: text())
            pairs.append((["tags", String(index), "id"], String(tag.id ?? 0)))
            pairs.append((["tags", String(index), "name"], tag.name))
            return tag
        }
    }

    private mutating func customFields(_ pairs: inout [Pair]) -> [WebhookCustomField] {
        guard rng.chance(60) else { return [] }
        return indexes(count: rng.below(4)).map { index in
            let prefix = ["custom_fields", String(index)]
            var field = WebhookCustomField(id: id())
            pairs.append((prefix + ["id"], String(field.id)))
            if rng.chance(70) {
                field.name = text()
                pairs.append((prefix + ["name"], field.name ?? ""))
            }
            if rng.chance(30) {
                field.code = rng.pick(["EMAIL", "PHONE", "WEB", text() + "c"])
                pairs.append((prefix + ["code"], field.code ?? ""))
            }
            switch rng.below(3) {
            case 0: // list of objects
                for valueIndex in indexes(count: rng.below(4)) {
                    let value = WebhookCustomFieldValue(value: text(), enumID: rng.chance(50) ? id() : nil)
                    pairs.append((prefix + ["values", String(valueIndex), "value"], value.value))
                    if let enumID = value.enumID {
                        pairs.append((prefix + ["values", String(valueIndex), "enum"], String(enumID)))
                    }
                    field.values.append(value)
                }
            case 1: // list of bare scalars
                for valueIndex in indexes(count: rng.below(4)) {
                    let value = WebhookCustomFieldValue(value: text())
                    pairs.append((prefix + ["values", String(valueIndex)], value.value))
                    field.values.append(value)
                }
            default: // one keyed object
                let value = WebhookCustomFieldValue(value: text(), enumID: rng.chance(50) ? id() : nil)
                pairs.append((prefix + ["values", "value"], value.value))
                if let enumID = value.enumID { pairs.append((prefix + ["values", "enum"], String(enumID))) }
                field.values = [value]
            }
            return field
        }
    }

    private mutating func lead(_ action: String, _ pairs: inout [Pair]) -> LeadEvent {
        var lead = LeadEvent(action: KommoWebhookAction(rawValue: action), id: id())
        pairs.append((["id"], String(lead.id)))
        lead.name = string("name", &pairs)
        lead.statusID = int("status_id", &pairs)
        lead.pipelineID = int("pipeline_id", &pairs)
        lead.oldStatusID = int("old_status_id", &pairs)
        lead.oldPipelineID = int("old_pipeline_id", &pairs)
        lead.price = decimal("price", &pairs)
        lead.priceWithMinorUnits = decimal("price_with_minor_units", &pairs)
        lead.responsibleUserID = int("responsible_user_id", &pairs)
        lead.oldResponsibleUserID = int("old_responsible_user_id", &pairs)
        lead.createdUserID = int("created_user_id", &pairs)
        lead.modifiedUserID = int("modified_user_id", &pairs)
        lead.accountID = int("account_id", &pairs)
        lead.lastModified = date("last_modified", &pairs)
        lead.dateCreate = date("date_create", &pairs)
        lead.createdAt = date("created_at", &pairs)
        lead.updatedAt = date("updated_at", &pairs)
        lead.tags = tags(&pairs)
        lead.customFields = customFields(&pairs)
        return lead
    }

    private mutating func contact(_ action: String, _ pairs: inout [Pair]) -> KommoWebhookEvent {
        let type: KommoWebhookEntityType = rng.chance(50) ? .company : .contact
        var entity = EntityEvent(entityType: type, action: KommoWebhookAction(rawValue: action), id: id())
        pairs.append((["id"], String(entity.id)))
        if type == .company || rng.chance(80) { pairs.append((["type"], type.rawValue)) }
        entity.name = string("name", &pairs)
        entity.responsibleUserID = int("responsible_user_id", &pairs)
        entity.oldResponsibleUserID = int("old_responsible_user_id", &pairs)
        entity.createdUserID = int("created_user_id", &pairs)
        entity.modifiedUserID = int("modified_user_id", &pairs)
        entity.accountID = int("account_id", &pairs)
        entity.dateCreate = date("date_create", &pairs)
        entity.lastModified = date("last_modified", &pairs)
        entity.createdAt = date("created_at", &pairs)
        entity.updatedAt = date("updated_at", &pairs)
        entity.customFields = customFields(&pairs)
        entity.tags = tags(&pairs)
        if type == .company {
            entity.linkedLeadIDs = indexes(count: rng.below(3)).map { Int64($0) + 24_000_000 }
            for leadID in entity.linkedLeadIDs { pairs.append((["linked_leads_id", String(leadID), "ID"], String(leadID))) }
        }
        return type == .company ? .company(entity) : .contact(entity)
    }

    private mutating func note(_ entity: String, _ pairs: inout [Pair]) -> NoteEvent {
        var note = NoteEvent(section: KommoWebhookSection(rawValue: entity), id: id())
        if entity == "contacts" {
            note.entityType = rng.chance(50) ? .company : .contact
            pairs.append((["type"], note.entityType?.rawValue ?? ""))
        }
        var inner: [Pair] = [(["id"], String(note.id))]
        note.text = string("text", &inner)
        note.noteType = int("note_type", &inner).flatMap { Int(exactly: $0) }
        note.elementType = int("element_type", &inner).flatMap { Int(exactly: $0) }
        note.elementID = int("element_id", &inner)
        note.createdBy = int("created_by", &inner)
        note.modifiedBy = int("modified_by", &inner)
        note.mainUserID = int("main_user_id", &inner)
        note.attachment = string("attachement", &inner)
        note.dateCreate = string("date_create", &inner)
        note.timestampX = string("timestamp_x", &inner)
        note.createdAt = date("created_at", &inner)
        note.updatedAt = date("updated_at", &inner)
        note.metadata = string("metadata", &inner)
        note.accountID = int("account_id", &inner)
        pairs += inner.map { (["note"] + $0.path, $0.value) }
        return note
    }

    private mutating func unknown(_ entity: String, _ action: String, _ index: String,
                                  _ pairs: inout [Pair]) -> UnknownWebhookItem {
        UnknownWebhookItem(section: KommoWebhookSection(rawValue: entity), action: KommoWebhookAction(rawValue: action),
                           index: index, raw: tree(depth: 3, path: [], &pairs))
    }

    /// A random map of 1–3 members whose leaves are strings.
    private mutating func tree(depth: Int, path: [String], _ pairs: inout [Pair]) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for _ in 0..<(1 + rng.below(3)) {
            let name = key()
            guard members[name] == nil else { continue }
            if depth > 1, rng.chance(35) {
                members[name] = tree(depth: depth - 1, path: path + [name], &pairs)
            } else {
                let value = text()
                pairs.append((path + [name], value))
                members[name] = .string(value)
            }
        }
        return .object(members)
    }

    // MARK: Encoding

    /// The form body for `pairs`, every byte that needs it percent-encoded and the rest randomly encoded or
    /// not, spaces randomly as `+` or `%20`, brackets randomly raw or encoded.
    mutating func encode(_ pairs: [Pair]) -> [UInt8] {
        var body: [UInt8] = []
        for (number, pair) in pairs.enumerated() {
            if number > 0 { body.append(UInt8(ascii: "&")) }
            for (depth, segment) in pair.path.enumerated() {
                if depth > 0 { appendBracket("[", &body) }
                appendEncoded(segment, &body)
                if depth > 0 { appendBracket("]", &body) }
            }
            body.append(UInt8(ascii: "="))
            appendEncoded(pair.value, &body)
        }
        return body
    }

    private mutating func appendBracket(_ bracket: Unicode.Scalar, _ body: inout [UInt8]) {
        if rng.chance(50) { body.append(UInt8(ascii: bracket)) } else { percent(UInt8(ascii: bracket), &body) }
    }

    private mutating func appendEncoded(_ text: String, _ body: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: " "):
                if rng.chance(50) { body.append(UInt8(ascii: "+")) } else { percent(byte, &body) }
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"), 0x80...0xFF:
                if rng.chance(70) { body.append(byte) } else { percent(byte, &body) }
            default:
                percent(byte, &body)
            }
        }
    }

    private mutating func percent(_ byte: UInt8, _ body: inout [UInt8]) {
        let digits = Array((rng.chance(50) ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        body += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
    }

    /// What the parser must return for `pairs` in this order: sections by first pair, items by index.
    func expected(order pairs: [Pair]) -> KommoWebhook {
        var order: [String] = []
        var seen = Set<String>()
        for pair in pairs where pair.path[0] != "account" {
            let key = pair.path[0] + "\u{1}" + pair.path[1]
            if seen.insert(key).inserted { order.append(key) }
        }
        let byKey = Dictionary(uniqueKeysWithValues: sections.map { ($0.entity + "\u{1}" + $0.action, $0.items) })
        let events = order.flatMap { byKey[$0, default: []].sorted { $0.index < $1.index }.map(\.event) }
        return KommoWebhook(account: account, events: events)
    }
}

@Suite("Kommo webhook properties", .timeLimit(.minutes(1)))
struct WebhookPropertyTests {
    @Test("400 random webhooks survive encode → parse unchanged, in any pair order")
    func roundTrip() throws {
        var totalEvents = 0
        for seed in UInt64(1)...400 {
            var random = RandomWebhook(seed: seed)
            random.build()
            let order = random.rng.chance(50) ? random.rng.shuffled(random.pairs) : random.pairs
            let body = Data(random.encode(order))
            let expected = random.expected(order: order)
            let parsed: KommoWebhook
            do {
                parsed = try KommoWebhookParser().parse(body: body, contentType: webhookContentType)
            } catch {
                Issue.record("seed \(seed): \(error)")
                continue
            }
            #expect(parsed == expected, "seed \(seed)")
            totalEvents += parsed.events.count
        }
        // The generator really produces events of every kind, not empty bodies.
        #expect(totalEvents > 1_000)
    }

    @Test("the generator covers every event kind and all three custom-field shapes")
    func generatorCoverage() {
        var kinds = Set<String>()
        var valueShapes = Set<String>()
        for seed in UInt64(1)...400 {
            var random = RandomWebhook(seed: seed)
            random.build()
            for event in random.sections.flatMap(\.items).map(\.event) {
                switch event {
                case .lead: kinds.insert("lead")
                case .contact: kinds.insert("contact")
                case .company: kinds.insert("company")
                case .note: kinds.insert("note")
                case .unknown: kinds.insert("unknown")
                }
            }
            for pair in random.pairs where pair.path.contains("values") {
                let tail = pair.path.drop { $0 != "values" }.dropFirst()
                valueShapes.insert(tail.first == "value" || tail.first == "enum" ? "keyed"
                                   : tail.count == 1 ? "scalar" : "object")
            }
        }
        #expect(kinds == ["lead", "contact", "company", "note", "unknown"])
        #expect(valueShapes == ["keyed", "scalar", "object"])
    }

    @Test("random bytes only ever produce a value or a typed error, the same one every time")
    func randomBytes() {
        let alphabet = Array("%[]&=+0123456789abcdefABCDEFxyz_ ".utf8) + [0x00, 0x7F, 0x80, 0xC3, 0xA9, 0xFF, 0xED]
        let known: Set<KommoWebhookError.Code> = [
            .emptyBody, .tooDeep, .tooManyPairs, .tooManyItems, .invalidPercentEncoding, .invalidUTF8, .malformedKey,
            .missingAccountID, .invalidAccountID, .missingAccountSubdomain, .missingItemID, .invalidItemID,
        ]
        // Half the cases are built from webhook-shaped tokens, so they get past percent-decoding and key checks.
        let tokens = ["leads", "contacts", "task", "account", "status", "update", "note", "0", "12", "id", "subdomain",
                      "type", "company", "custom_fields", "values", "value", "enum", "tags", "name", "linked_leads_id",
                      "x", ""].map { Array($0.utf8) }
        let values = ["1", "31234567", "142", "company", "contact", "a+b", "%D0%96", "", "-1"].map { Array($0.utf8) }
        let junk = ["%", "%G", "%FF", "]", "[", "==", "&&"].map { Array($0.utf8) }
        var rng = WebhookSplitMix64(seed: 0xC0FFEE)
        var outcomes: [String: Int] = [:]
        let limits = KommoWebhookParser.Limits(maxDepth: 3, maxPairs: 40, maxItems: 5)
        for _ in 0..<600 {
            var bytes: [UInt8] = rng.chance(50) ? Array(webhookAccountPairs.utf8) + [UInt8(ascii: "&")] : []
            if rng.chance(50) {
                // Webhook-shaped pairs with occasional damage: a lost bracket, a stray token.
                for _ in 0..<rng.below(12) {
                    bytes += rng.pick(tokens)
                    for _ in 0..<rng.below(6) {
                        if !rng.chance(3) { bytes += rng.pick([Array("[".utf8), Array("%5B".utf8)]) }
                        bytes += rng.pick(tokens)
                        if !rng.chance(3) { bytes += rng.pick([Array("]".utf8), Array("%5D".utf8)]) }
                    }
                    bytes += Array("=".utf8) + rng.pick(tokens + values)
                    if rng.chance(3) { bytes += rng.pick(junk) }
                    bytes.append(UInt8(ascii: "&"))
                }
            } else {
                for _ in 0..<rng.below(120) {
                    bytes.append(rng.chance(85) ? rng.pick(alphabet) : UInt8(truncatingIfNeeded: rng.next()))
                }
            }
            let first = outcome(Data(bytes), limits: limits)
            #expect(first == outcome(Data(bytes), limits: limits))
            if let code = first.error { #expect(known.contains(code), "\(code)") }
            outcomes[first.error?.rawValue ?? "parsed", default: 0] += 1
        }
        // Both outcomes occur, so the test exercises the decoder past its first checks.
        #expect(outcomes["parsed", default: 0] > 10, "\(outcomes)")
        #expect(outcomes.count >= 8, "\(outcomes)")
    }

    @Test("mutated fixtures only ever produce a value or a typed error")
    func mutatedFixtures() throws {
        let names = try Fixtures.kommoNames().filter { $0.hasPrefix("webhook-") }
        let bodies = try names.map { try Array(Fixtures.kommo($0)) }
        var rng = WebhookSplitMix64(seed: 42)
        var parsed = 0
        var mutatedOutcomes: [String: Int] = [:]
        for _ in 0..<600 {
            var bytes = rng.pick(bodies)
            for _ in 0..<(1 + rng.below(4)) where !bytes.isEmpty {
                let position = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[position] = rng.pick(Array("%[]&=+5BD".utf8) + [0xFF])
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
                }
            }
            let result = outcome(Data(bytes))
            if let hook = result.hook {
                parsed += 1
                #expect(hook.account.subdomain.isEmpty == false)
            }
            mutatedOutcomes[result.error?.rawValue ?? "parsed", default: 0] += 1
        }
        #expect(parsed > 50, "\(mutatedOutcomes)")
        #expect(mutatedOutcomes.count >= 6, "\(mutatedOutcomes)")
    }

    private func outcome(_ body: Data, limits: KommoWebhookParser.Limits = .init())
        -> (hook: KommoWebhook?, error: KommoWebhookError.Code?) {
        do {
            return (try KommoWebhookParser(limits: limits).parse(body: body, contentType: webhookContentType), nil)
        } catch {
            return (nil, error.code)
        }
    }
}
