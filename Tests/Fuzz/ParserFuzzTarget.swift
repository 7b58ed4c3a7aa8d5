// The libFuzzer entry point for the webhook parser. Not part of the package: Tests/Fuzz/run-parser-fuzzer.sh builds
// it with `-sanitize=fuzzer,address` together with the KommoModels and JSONCore sources (see
// Documentation/Reliability.md).

import Foundation
import KommoModels

/// Small limits, so that the fuzzer reaches every limit with short inputs, and two known accounts, so that bodies
/// attributed by subdomain are exercised too.
private let parser = KommoWebhookParser(
    limits: .init(maxBodyBytes: 65_536, maxDepth: 8, maxPairs: 2_000, maxItems: 100),
    knownAccounts: [.init(id: 31_234_567, host: "acme.kommo.com"), .init(id: 40_000_001, host: "globex.amocrm.ru")])

/// Parses one input and checks what must hold of every outcome; a broken promise aborts, which libFuzzer reports
/// with the input that caused it.
@_cdecl("LLVMFuzzerTestOneInput")
public func parserFuzzTarget(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = data.map { Data(bytes: $0, count: size) } ?? Data()
    do throws(KommoWebhookError) {
        let webhook = try parser.parse(body: body, contentType: "application/x-www-form-urlencoded")
        if webhook.events.count > parser.limits.maxItems || webhook.account.subdomain.isEmpty { abort() }
    } catch {
        // An error never quotes the body: its path keeps only the characters of Kommo's own keys.
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_[]…")
        if let path = error.path, !path.allSatisfy(allowed.contains) { abort() }
        if let offset = error.byteOffset, offset < 0 || offset > size { abort() }
    }
    return 0
}
