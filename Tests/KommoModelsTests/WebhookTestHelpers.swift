import Foundation
import KommoModels
import KommoSegmentTesting

/// The content type Kommo sends.
let webhookContentType = "application/x-www-form-urlencoded"

/// The account every fixture comes from.
let webhookAcmeAccount = KommoWebhookAccount(id: 31_234_567, subdomain: "acme", baseURL: URL(string: "https://acme.kommo.com"))

/// Parses a fixture with default limits.
func parseWebhookFixture(_ name: String) throws -> KommoWebhook {
    try KommoWebhookParser().parse(body: Fixtures.kommo(name), contentType: webhookContentType)
}

/// Parses a body written as text (already form-encoded).
func parseWebhookBody(_ body: String, limits: KommoWebhookParser.Limits = .init()) throws(KommoWebhookError) -> KommoWebhook {
    try KommoWebhookParser(limits: limits).parse(body: Data(body.utf8), contentType: webhookContentType)
}

/// The error a body produces, or `nil` when it parses.
func webhookParseError(
    _ body: Data, contentType: String? = webhookContentType, limits: KommoWebhookParser.Limits = .init()
) -> KommoWebhookError? {
    do {
        _ = try KommoWebhookParser(limits: limits).parse(body: body, contentType: contentType)
        return nil
    } catch {
        return error
    }
}

/// The error a text body produces, or `nil` when it parses.
func webhookParseError(_ body: String, limits: KommoWebhookParser.Limits = .init()) -> KommoWebhookError? {
    webhookParseError(Data(body.utf8), limits: limits)
}

/// A date from Unix seconds.
func webhookDate(_ seconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }

/// The account block in encoded form, for hand-written bodies.
let webhookAccountPairs = "account%5Bsubdomain%5D=acme&account%5Bid%5D=31234567"

extension KommoWebhookEvent {
    /// The lead, if this is a lead event.
    var lead: LeadEvent? { if case .lead(let lead) = self { lead } else { nil } }
    /// The contact or company, if this is one.
    var entity: EntityEvent? {
        switch self {
        case .contact(let entity), .company(let entity): entity
        default: nil
        }
    }
    /// The note, if this is a note event.
    var note: NoteEvent? { if case .note(let note) = self { note } else { nil } }
    /// The unknown item, if this is one.
    var unknownItem: UnknownWebhookItem? { if case .unknown(let item) = self { item } else { nil } }
}
