/// A Kommo webhook body that ``KommoWebhookParser`` refuses, with the reason and where it was found.
///
/// The error never repeats field values from the body (they may hold personal data): it names the code, the
/// bracket path of the offending key when there is one (shortened if long), the byte offset when that helps, and
/// a fixed explanation. Answer the webhook with a 4xx status only when you are sure the sender is not Kommo, since
/// Kommo counts every failed delivery toward disabling the hook (see `Documentation/Webhooks.md`).
public struct KommoWebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an open set of codes: new codes can be added without breaking callers.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The `Content-Type` is missing, is not `application/x-www-form-urlencoded`, or names a charset other
        /// than UTF-8 (or its subset US-ASCII).
        public static let unsupportedContentType = Code(rawValue: "unsupportedContentType")
        /// The body has no bytes, or nothing but separators.
        public static let emptyBody = Code(rawValue: "emptyBody")
        /// The body is larger than ``KommoWebhookParser/Limits/maxBodyBytes``.
        public static let bodyTooLarge = Code(rawValue: "bodyTooLarge")
        /// A key has more bracket segments than ``KommoWebhookParser/Limits/maxDepth``.
        public static let tooDeep = Code(rawValue: "tooDeep")
        /// The body has more `name=value` pairs than ``KommoWebhookParser/Limits/maxPairs``.
        public static let tooManyPairs = Code(rawValue: "tooManyPairs")
        /// The body holds more items than ``KommoWebhookParser/Limits/maxItems``.
        public static let tooManyItems = Code(rawValue: "tooManyItems")
        /// A `%` is not followed by two hexadecimal digits.
        public static let invalidPercentEncoding = Code(rawValue: "invalidPercentEncoding")
        /// A key or value is not valid UTF-8 once percent-decoded.
        public static let invalidUTF8 = Code(rawValue: "invalidUTF8")
        /// A key is not `name` followed by zero or more `[segment]` groups (empty name, unbalanced or nested
        /// brackets, text after a closing bracket).
        public static let malformedKey = Code(rawValue: "malformedKey")
        /// No account was found: the body has no `account[id]`, no item carries an `account_id`, and
        /// `account[subdomain]` is absent or matches none of ``KommoWebhookParser/knownAccounts``.
        public static let missingAccountID = Code(rawValue: "missingAccountID")
        /// `account[id]`, or an item's `account_id`, is not a whole non-negative decimal number that fits in 64 bits.
        public static let invalidAccountID = Code(rawValue: "invalidAccountID")
        /// The body has no `account[id]`, and its items' `account_id` values differ.
        public static let conflictingAccountIDs = Code(rawValue: "conflictingAccountIDs")
        /// The body names its account only by `account[subdomain]`, and that matches several of
        /// ``KommoWebhookParser/knownAccounts``.
        public static let ambiguousAccount = Code(rawValue: "ambiguousAccount")
        /// `account[subdomain]` is absent or empty.
        public static let missingAccountSubdomain = Code(rawValue: "missingAccountSubdomain")
        /// A lead, contact, company or note item has no `id`.
        public static let missingItemID = Code(rawValue: "missingItemID")
        /// A lead, contact, company or note item has an `id` that is not a whole non-negative decimal number that
        /// fits in 64 bits.
        public static let invalidItemID = Code(rawValue: "invalidItemID")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The bracket path of the offending key (for example `leads[status][0][id]`), shortened to at most 200
    /// characters, when the error concerns one key. Only the leading letters, digits, `_` and brackets are kept
    /// (then `…`), so no value from the body can be quoted through a malformed key.
    public var path: String?
    /// The offset in the body of the offending byte or pair, when known.
    public var byteOffset: Int?
    /// A short explanation without any value taken from the body.
    public var detail: String

    /// Creates a webhook error.
    public init(code: Code, path: String? = nil, byteOffset: Int? = nil, detail: String) {
        self.code = code
        self.path = path.flatMap(Self.quotable).map(Self.shortened)
        self.byteOffset = byteOffset
        self.detail = detail
    }

    /// What happened and what to do about it.
    public var description: String {
        var location = ""
        if let path { location += " at \(path)" }
        if let byteOffset { location += " (byte \(byteOffset))" }
        let advice: String
        switch code {
        case .unsupportedContentType:
            advice = "Kommo sends application/x-www-form-urlencoded in UTF-8; this request did not come from a Kommo "
                + "webhook, or a proxy rewrote it."
        case .emptyBody:
            advice = "Kommo always sends at least the account block; check that the server hands over the raw body."
        case .bodyTooLarge, .tooDeep, .tooManyPairs, .tooManyItems:
            advice = "Real Kommo bodies stay well inside the defaults; raise KommoWebhookParser.Limits only if a "
                + "genuine batch hits this, otherwise reject the request."
        case .invalidPercentEncoding, .invalidUTF8, .malformedKey:
            advice = "The body is not valid PHP-style form data; pass the raw request bytes unchanged."
        case .missingAccountID, .invalidAccountID, .conflictingAccountIDs, .ambiguousAccount, .missingAccountSubdomain:
            advice = "Every Kommo webhook names its account (account[id], the items' account_id, or "
                + "account[subdomain] with the account's host configured); without it the request cannot be "
                + "attributed."
        case .missingItemID, .invalidItemID:
            advice = "An item without a usable id cannot be acted on; the whole body is refused so that nothing is "
                + "half-processed."
        default:
            advice = "See Documentation/Webhooks.md."
        }
        return "Kommo webhook rejected (\(code))\(location): \(detail). \(advice)"
    }

    /// The error for a body with more than `maxItems` items.
    static func tooManyItems(_ maxItems: Int, byteOffset: Int? = nil) -> KommoWebhookError {
        KommoWebhookError(code: .tooManyItems, byteOffset: byteOffset,
                          detail: "the body holds more than \(maxItems) items")
    }

    static func shortened(_ path: String) -> String {
        guard path.count > 200 else { return path }
        return String(path.prefix(199)) + "…"
    }

    /// The part of a key that can be quoted: Kommo's own keys are ASCII letters, digits, `_` and brackets, so the
    /// path is cut at the first other character, and a key that starts with one (a JSON body, say, whose "key"
    /// holds an email address) is not quoted at all. The byte offset still says where the problem is.
    static func quotable(_ path: String) -> String? {
        let kept = path.unicodeScalars.prefix { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "[", "]": true
            default: false
            }
        }
        guard !kept.isEmpty else { return nil }
        let prefix = String(String.UnicodeScalarView(kept))
        return prefix.unicodeScalars.count == path.unicodeScalars.count ? prefix : prefix + "…"
    }
}
