import Foundation
import JSONCore

/// Decodes the body of a Kommo (amoCRM) webhook request into a ``KommoWebhook``.
///
/// Pure and total: no I/O, no clock, no global state; it returns a value or throws a ``KommoWebhookError``, and
/// never traps or hangs on hostile input. Cost is linear in the body's size whatever its shape: one pass over the
/// body with one dictionary step per key segment, the limits checked during that pass, then a sort of each set of
/// sibling indexes that reads each key once (see `Documentation/Performance.md`).
///
/// ```swift
/// let parser = KommoWebhookParser()
/// let hook = try parser.parse(body: requestBody, contentType: request.headers["Content-Type"])
/// for case .lead(let lead) in hook.events where lead.isStageChange && lead.isWon() {
///     // …
/// }
/// ```
///
/// Kommo webhooks are not signed: check the secret in your webhook URL before parsing, compare
/// ``KommoWebhookAccount/id`` with the installation, and treat the content as a hint to re-read through the API.
public struct KommoWebhookParser: Sendable {
    /// Bounds on the work a single body may cause. Every field has a default; values below zero count as zero.
    public struct Limits: Sendable, Hashable {
        /// The largest body accepted, in bytes. Default 1 MiB (1,048,576), far above real hooks (a few KiB).
        public var maxBodyBytes: Int
        /// The most bracket segments a key may have after its name (`a[b][c]` has 2). Default 8; the deepest
        /// real key, `leads[update][0][custom_fields][0][values][0][value]`, has 7.
        public var maxDepth: Int
        /// The most `name=value` pairs a body may hold (empty pairs such as `&&` are not counted). Default 20,000:
        /// room for ``maxItems`` full lead items at about 20 pairs each.
        public var maxPairs: Int
        /// The most items (events) a body may hold across all sections. Default 1,000; Kommo documents no batch
        /// maximum, and batches seen in practice are far smaller.
        public var maxItems: Int

        /// Creates limits; every argument has a default.
        public init(maxBodyBytes: Int = 1_048_576, maxDepth: Int = 8, maxPairs: Int = 20_000, maxItems: Int = 1_000) {
            self.maxBodyBytes = maxBodyBytes
            self.maxDepth = maxDepth
            self.maxPairs = maxPairs
            self.maxItems = maxItems
        }
    }

    /// An account served, by host: how a body that names its account only by `account[subdomain]` is attributed.
    public struct KnownAccount: Sendable, Hashable {
        /// The Kommo account id.
        public var id: Int64
        /// The account's host, lowercased: `acme.kommo.com`, `acme.amocrm.ru`…
        public var host: String

        /// Creates a known account; the host is lowercased.
        public init(id: Int64, host: String) {
            self.id = id
            self.host = host.lowercased()
        }
    }

    /// The limits this parser enforces.
    public var limits: Limits
    /// The accounts served, for bodies without `account[id]` whose items carry no `account_id` either: the one
    /// whose host is that of `account[_links][self]`, else whose host's first label is `account[subdomain]`.
    public var knownAccounts: [KnownAccount]

    /// Creates a parser with the given limits and known accounts.
    public init(limits: Limits = .init(), knownAccounts: [KnownAccount] = []) {
        self.limits = limits
        self.knownAccounts = knownAccounts
    }

    /// Decodes a webhook body.
    ///
    /// - Parameters:
    ///   - body: The raw request body, unchanged.
    ///   - contentType: The request's `Content-Type` header. It must be `application/x-www-form-urlencoded`
    ///     (any case), optionally with `charset=utf-8` (or `us-ascii`); other parameters are ignored.
    /// - Returns: The account block and every item, sections in order of first appearance, items by index.
    /// - Throws: ``KommoWebhookError`` and nothing else: a wrong content type, an empty or oversized body, a
    ///   limit exceeded, bad percent-encoding or UTF-8, a malformed key, no account found (see
    ///   ``KommoWebhookAccount/id``) or items that disagree on it, a missing subdomain, or a
    ///   lead/contact/company/note item without a numeric `id` (which fails the whole body, with the item's path
    ///   in ``KommoWebhookError/path``). Unknown sections and unparseable non-key fields are never errors.
    public func parse(body: Data, contentType: String?) throws(KommoWebhookError) -> KommoWebhook {
        try Self.checkContentType(contentType)
        if body.isEmpty {
            throw KommoWebhookError(code: .emptyBody, detail: "the body is empty")
        }
        let maxBodyBytes = max(0, limits.maxBodyBytes)
        if body.count > maxBodyBytes {
            throw KommoWebhookError(code: .bodyTooLarge,
                                    detail: "the body is \(body.count) bytes, over the limit of \(maxBodyBytes)")
        }
        let tree = try WebhookFormDecoder.decode(body, limits: limits)
        let items = WebhookItemDecoder(tree: tree)
        let account = try items.account(knownAccounts: knownAccounts)
        let events = try items.events(maxItems: max(0, limits.maxItems))
        return KommoWebhook(account: account, events: events)
    }

    static func checkContentType(_ contentType: String?) throws(KommoWebhookError) {
        guard let contentType else {
            throw KommoWebhookError(code: .unsupportedContentType, detail: "the request has no Content-Type")
        }
        // What Kommo sends, checked without splitting or lowercasing.
        if contentType == "application/x-www-form-urlencoded" { return }
        var parts = contentType.split(separator: ";", omittingEmptySubsequences: false).makeIterator()
        let mediaType = parts.next().map { $0.trimmingWhiteSpace(newlines: false).lowercased() } ?? ""
        guard mediaType == "application/x-www-form-urlencoded" else {
            throw KommoWebhookError(code: .unsupportedContentType,
                                    detail: "the Content-Type is not application/x-www-form-urlencoded")
        }
        while let parameter = parts.next() {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, pair[0].trimmingWhiteSpace(newlines: false).lowercased() == "charset" else {
                continue
            }
            var charset = pair[1].trimmingWhiteSpace(newlines: false).lowercased()
            if charset.count >= 2, charset.hasPrefix("\""), charset.hasSuffix("\"") {
                charset = String(charset.dropFirst().dropLast())
            }
            guard ["utf-8", "utf8", "us-ascii"].contains(charset) else {
                throw KommoWebhookError(code: .unsupportedContentType,
                                        detail: "the Content-Type names a charset other than UTF-8")
            }
        }
    }
}
