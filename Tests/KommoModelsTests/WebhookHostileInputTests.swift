import Foundation
import KommoModels
import Testing

@Suite("Kommo webhook hostile input", .timeLimit(.minutes(1)))
struct WebhookHostileInputTests {
    @Test("content types other than UTF-8 form data are refused", arguments: [
        nil, "", "application/json", "text/plain", "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded-evil", "application/x-www-form-urlencoded; charset=windows-1251",
        "application/x-www-form-urlencoded; charset=\"koi8-r\"", "x-www-form-urlencoded",
    ] as [String?])
    func contentType(contentType: String?) {
        let error = webhookParseError(Data(webhookAccountPairs.utf8), contentType: contentType)
        #expect(error?.code == .unsupportedContentType)
    }

    @Test("a JSON body sent as form data is refused without quoting any of its values")
    func jsonBodyQuotesNothing() throws {
        let email = "anna.petrova@example.com"
        let phone = "+79161234567"
        let body = Data(#"{"email":"\#(email)","phone":"\#(phone)","account":{"id":1}}"#.utf8)
        #expect(throws: KommoWebhookError.self) {
            try KommoWebhookParser().parse(body: body, contentType: "application/x-www-form-urlencoded")
        }
        do {
            _ = try KommoWebhookParser().parse(body: body, contentType: "application/x-www-form-urlencoded")
        } catch {
            #expect(error.code == .missingAccountID)
            #expect(error.path == "account[id]")
            for text in [error.description, error.detail] {
                #expect(!text.contains("anna"))
                #expect(!text.contains("example.com"))
                #expect(!text.contains("9161234567"))
            }
        }
    }

    @Test("a JSON body with '=' in it makes a malformed key that is not quoted, only located")
    func jsonKeyIsNotQuoted() throws {
        let body = Data(#"account[id]=1&account[subdomain]=acme&{"email":"anna.petrova@example.com","n":"a[b]c=d"}"#.utf8)
        do {
            _ = try KommoWebhookParser().parse(body: body, contentType: "application/x-www-form-urlencoded")
            Issue.record("the body was accepted")
        } catch {
            #expect(error.code == .malformedKey)
            #expect(error.path == nil)
            #expect(error.byteOffset == 38)
            #expect(!error.description.contains("anna"))
            #expect(!error.description.contains("example.com"))
        }
    }

    @Test("a malformed key is quoted only up to its first character that no Kommo key has")
    func malformedKeyIsCut() throws {
        let body = Data("account[id]=1&leads[status][0][id]x@mail.example=2".utf8)
        do {
            _ = try KommoWebhookParser().parse(body: body, contentType: "application/x-www-form-urlencoded")
            Issue.record("the body was accepted")
        } catch {
            #expect(error.code == .malformedKey)
            #expect(error.path == "leads[status][0][id]x…")
            #expect(!error.description.contains("mail.example"))
        }
    }

    @Test("an empty body, or one with only separators, is refused", arguments: ["", "&", "&&&&"])
    func emptyBody(body: String) {
        #expect(webhookParseError(body)?.code == .emptyBody)
    }

    @Test("a body over the size limit is refused before it is read")
    func bodyTooLarge() {
        let small = KommoWebhookParser.Limits(maxBodyBytes: webhookAccountPairs.utf8.count)
        #expect(webhookParseError(webhookAccountPairs, limits: small) == nil)
        #expect(webhookParseError(webhookAccountPairs + "&", limits: small)?.code == .bodyTooLarge)
        // One byte over the default 1 MiB, even though its content is harmless.
        let huge = Data(repeating: UInt8(ascii: "&"), count: 1_048_577)
        #expect(webhookParseError(huge)?.code == .bodyTooLarge)
        let negative = KommoWebhookParser.Limits(maxBodyBytes: -1)
        #expect(webhookParseError(webhookAccountPairs, limits: negative)?.code == .bodyTooLarge)
    }

    @Test("a key nested deeper than the limit is refused")
    func tooDeep() throws {
        let eight = webhookAccountPairs + "&a[1][2][3][4][5][6][7][8]=x"
        #expect(try parseWebhookBody(eight).events.count == 1)
        let nine = webhookAccountPairs + "&a[1][2][3][4][5][6][7][8][9]=x"
        let error = try #require(webhookParseError(nine))
        #expect(error.code == .tooDeep)
        #expect(error.byteOffset == webhookAccountPairs.utf8.count + 1)
        let hostile = webhookAccountPairs + "&a" + String(repeating: "[x]", count: 100_000) + "=1"
        #expect(webhookParseError(hostile)?.code == .tooDeep)
        #expect(webhookParseError(webhookAccountPairs + "&a[b]=1", limits: .init(maxDepth: 0))?.code == .tooDeep)
    }

    @Test("more pairs than the limit are refused")
    func tooManyPairs() {
        let pairs = Array(repeating: "x=1", count: 19_998).joined(separator: "&")
        #expect(webhookParseError(webhookAccountPairs + "&" + pairs) == nil)
        #expect(webhookParseError(webhookAccountPairs + "&" + pairs + "&x=2")?.code == .tooManyPairs)
        #expect(webhookParseError(webhookAccountPairs + "&a=1", limits: .init(maxPairs: 2))?.code == .tooManyPairs)
    }

    @Test("more items than the limit are refused, counting every section")
    func tooManyItems() {
        let leads = (0..<1_000).map { "leads[status][\($0)][id]=\($0 + 1)" }.joined(separator: "&")
        #expect(webhookParseError(webhookAccountPairs + "&" + leads) == nil)
        #expect(webhookParseError(webhookAccountPairs + "&" + leads + "&task[add][0][id]=1")?.code == .tooManyItems)
        let mixed = webhookAccountPairs + "&leads[add][0][id]=1&contacts[add][0][id]=2&foo=bar"
        #expect(webhookParseError(mixed, limits: .init(maxItems: 2))?.code == .tooManyItems)
        #expect(webhookParseError(mixed, limits: .init(maxItems: 3)) == nil)
    }

    @Test("a '%' not followed by two hex digits is refused, with its byte offset", arguments: [
        ("%", 0), ("a=%", 2), ("a=%2", 2), ("a=%zz", 2), ("a=%G0", 2), ("a=b%2&c=d", 3), ("a%5=1", 1),
        ("a=%%41", 2), ("a=1&b%=2", 5),
    ])
    func invalidPercentEncoding(body: String, offset: Int) throws {
        let error = try #require(webhookParseError(body))
        #expect(error.code == .invalidPercentEncoding)
        #expect(error.byteOffset == offset)
    }

    @Test("bytes that are not UTF-8 after decoding are refused, in keys and values", arguments: [
        "a=%FF", "a=%C3", "a=%C0%AF", "a=%ED%A0%80", "a=%F4%90%80%80", "%FF=1", "a[%C3]=1", "a%C3[b]=1",
        "a=%E2%82",
    ])
    func invalidUTF8(body: String) {
        #expect(webhookParseError(webhookAccountPairs + "&" + body)?.code == .invalidUTF8)
    }

    @Test("raw bytes that are not UTF-8 are refused")
    func rawInvalidUTF8() {
        var body = Data((webhookAccountPairs + "&a=").utf8)
        body.append(contentsOf: [0xFF, 0xFE])
        #expect(webhookParseError(body)?.code == .invalidUTF8)
    }

    @Test("keys with malformed brackets are refused", arguments: [
        "=x", "[a]=1", "%5Ba%5D=1", "a]=1", "a[b=1", "a[b]c=1", "a[b[c]]=1", "a[b]]=1", "a[b][=1", "a]b[=1",
        "a[b]%5D=1",
    ])
    func malformedKey(body: String) {
        let error = webhookParseError(webhookAccountPairs + "&" + body)
        #expect(error?.code == .malformedKey)
        #expect(error?.byteOffset == webhookAccountPairs.utf8.count + 1)
    }

    @Test("a body without any account is refused, naming the last place looked", arguments: [
        ("leads[status][0][id]=1", "account[id]"), ("account[subdomain]=acme", "account[subdomain]"),
        ("account=31234567&account_id=1", "account[id]"),
        ("account[ID]=31234567&account[subdomain]=acme", "account[subdomain]"),
    ])
    func missingAccountID(body: String, path: String) {
        let error = webhookParseError(body)
        #expect(error?.code == .missingAccountID)
        #expect(error?.path == path)
        #expect(error?.detail.hasPrefix("no account was found") == true)
    }

    @Test("a non-numeric account id is refused", arguments: [
        "", "abc", "-1", "%2B1", "1.5", "99999999999999999999", "31234567x", "%2031234567",
    ])
    func invalidAccountID(value: String) {
        let error = webhookParseError("account[subdomain]=acme&account[id]=" + value)
        #expect(error?.code == .invalidAccountID)
        #expect(error?.path == "account[id]")
        #expect(webhookParseError("account[subdomain]=acme&account[id][x]=1")?.code == .invalidAccountID)
    }

    @Test("a missing or empty subdomain is refused", arguments: [
        "account[id]=1", "account[id]=1&account[subdomain]=", "account[id]=1&account[subdomain][x]=acme",
    ])
    func missingSubdomain(body: String) {
        let error = webhookParseError(body)
        #expect(error?.code == .missingAccountSubdomain)
        #expect(error?.path == "account[subdomain]")
    }

    @Test("an item without an id fails the whole body and names the item's path", arguments: [
        ("leads[status][0][name]=x", "leads[status][0][id]"),
        ("leads[status][0]=x", "leads[status][0][id]"),
        ("leads[status][3][id]=1&leads[status][7][name]=x", "leads[status][7][id]"),
        ("contacts[update][0][type]=contact", "contacts[update][0][id]"),
        ("contacts[update][0][type]=company&contacts[update][0][name]=x", "contacts[update][0][id]"),
        ("leads[note][0][note][text]=hi", "leads[note][0][note][id]"),
        ("contacts[note][0][type]=contact&contacts[note][0][note][text]=hi", "contacts[note][0][note][id]"),
    ])
    func missingItemID(body: String, path: String) {
        let error = webhookParseError(webhookAccountPairs + "&" + body)
        #expect(error?.code == .missingItemID)
        #expect(error?.path == path)
    }

    @Test("an item with a non-numeric id fails the whole body and names the item's path", arguments: [
        ("leads[add][0][id]=abc", "leads[add][0][id]"),
        ("leads[add][0][id]=-5", "leads[add][0][id]"),
        ("leads[add][0][id]=", "leads[add][0][id]"),
        ("leads[add][0][id][x]=1", "leads[add][0][id]"),
        ("contacts[add][2][id]=1e3", "contacts[add][2][id]"),
        ("leads[note][0][note][id]=12.0", "leads[note][0][note][id]"),
    ])
    func invalidItemID(body: String, path: String) {
        let error = webhookParseError(webhookAccountPairs + "&" + body)
        #expect(error?.code == .invalidItemID)
        #expect(error?.path == path)
    }

    @Test("errors never repeat values from the body")
    func errorsDoNotLeakValues() throws {
        let secret = "sk_live_Zx9SECRETvalue"
        let bodies = [
            webhookAccountPairs + "&leads[add][0][id]=\(secret)",
            "account[subdomain]=acme&account[id]=\(secret)",
            "account[subdomain]=\(secret)",
            webhookAccountPairs + "&leads[add][0][name]=\(secret)&leads[add][0][x]=%ZZ",
            webhookAccountPairs + "&leads[add][0][name]=\(secret)%FF",
        ]
        for body in bodies {
            let error = try #require(webhookParseError(body))
            #expect(!error.description.contains(secret), "\(error.code)")
            #expect(!error.detail.contains(secret))
            #expect(!(error.path ?? "").contains(secret))
            #expect(!String(reflecting: error).contains(secret))
        }
    }

    @Test("error descriptions say what happened and where")
    func descriptions() throws {
        let error = try #require(webhookParseError(webhookAccountPairs + "&leads[status][0][name]=x"))
        #expect(error.description.contains("missingItemID"))
        #expect(error.description.contains("leads[status][0][id]"))
        let percent = try #require(webhookParseError("a=%zz"))
        #expect(percent.description.contains("byte 2"))
        let long = try #require(webhookParseError(webhookAccountPairs + "&" + String(repeating: "k", count: 1_000) + "]=1"))
        #expect(long.code == .malformedKey)
        #expect((long.path?.count ?? 0) <= 200)
    }
}

@Suite("Kommo webhook limits while scanning", .timeLimit(.minutes(1)))
struct WebhookScanLimitTests {
    @Test("too many items are refused at the first item over the limit, before the rest is read")
    func tooManyItemsWhileScanning() throws {
        let items = (0..<20).map { "leads[status][\($0)][id]=\($0 + 1)" }
        let body = webhookAccountPairs + "&" + items.joined(separator: "&")
        let error = try #require(webhookParseError(body, limits: .init(maxItems: 5)))
        #expect(error.code == .tooManyItems)
        // The offset is that of the sixth item's pair, not the end of the body.
        let sixth = try #require(body.range(of: "leads[status][5][id]"))
        #expect(error.byteOffset == body.utf8.distance(from: body.startIndex, to: sixth.lowerBound))
    }

    @Test("indexes order by value whatever their length or leading zeros, then by bytes")
    func longIndexes() throws {
        let keys = ["0000000000000000000000001", "5", "05", "123456789012345678901", "9", "0", "b", "a",
                    "99999999999999999999", "000"]
        let body = webhookAccountPairs + keys.map { "&task[add][\($0)][x]=1" }.joined()
        let items = try parseWebhookBody(body).events.compactMap(\.unknownItem)
        #expect(items.map(\.index) == ["0", "000", "0000000000000000000000001", "05", "5", "9",
                                       "99999999999999999999", "123456789012345678901", "a", "b"])
    }
}

@Suite("Kommo webhook keys that share a path with the key before", .timeLimit(.minutes(1)))
struct WebhookSharedPathTests {
    @Test("repeats, prefixes, appends and a changed name decode as if each key were read alone", arguments: [
        // A repeated key: the last value wins.
        ("task[add][0][x]=1&task[add][0][x]=2", #"{"x":"2"}"#),
        // A key that is a prefix of the one before replaces its map with a leaf, and the map can grow again.
        ("task[add][0][x][y]=1&task[add][0][x]=2&task[add][0][x][z]=3", #"{"x":{"z":"3"}}"#),
        // `[]` appends each time, even after the same path.
        ("task[add][0][x][]=a&task[add][0][x][]=b&task[add][0][x][5]=c&task[add][0][x][]=d",
         #"{"x":{"0":"a","1":"b","5":"c","6":"d"}}"#),
        // Parts equal in bytes but at another place, or under another name, are not shared.
        ("task[add][0][x]=1&tusk[add][0][x]=2&task[add][0][y]=3", #"{"x":"1","y":"3"}"#),
        ("task[add][0][ab]=1&task[add][0][a]=2&task[add][0][abc]=3", #"{"a":"2","ab":"1","abc":"3"}"#),
    ])
    func sharedPaths(pairs: String, firstItem: String) throws {
        let items = try parseWebhookBody(webhookAccountPairs + "&" + pairs).events.compactMap(\.unknownItem)
        let first = try #require(items.first { $0.section.rawValue == "task" })
        #expect(first.raw == (try JSONDecoder().decode(JSONValue.self, from: Data(firstItem.utf8))))
    }
}
