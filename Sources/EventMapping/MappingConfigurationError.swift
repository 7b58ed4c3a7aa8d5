/// Why a mapping configuration document was refused.
///
/// Every error names the key path of the offending value (``keyPath``, e.g. `eventNames.dealWon`,
/// `wonStatusIds[1]` or `leadFields["abc"]`; empty for the document itself) and says what is wrong and how to fix
/// it in ``message``. Match on ``code`` in code and show ``description`` to people.
public struct MappingConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem; an open set, so new kinds can be added without breaking callers.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name.
        public let rawValue: String
        /// A code named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The data is not a JSON document.
        public static let invalidJSON = Code(rawValue: "invalidJSON")
        /// A key that the configuration does not have (often a typo; the message suggests the closest key).
        public static let unknownKey = Code(rawValue: "unknownKey")
        /// A value of the wrong JSON type (for example a string where a number belongs).
        public static let wrongType = Code(rawValue: "wrongType")
        /// An empty (or all-whitespace) event name, trait name, property name or integration name.
        public static let emptyValue = Code(rawValue: "emptyValue")
        /// A Kommo id (status or custom field) that is zero or negative.
        public static let nonPositiveID = Code(rawValue: "nonPositiveID")
        /// A key of `leadFields`, `contactFields` or `companyFields` that is not a positive integer.
        public static let invalidFieldID = Code(rawValue: "invalidFieldID")
        /// A `currency` that is not three uppercase letters (ISO 4217).
        public static let invalidCurrency = Code(rawValue: "invalidCurrency")
        /// An event key, in `eventNames` or `disabledEvents`, that is not one of the known events.
        public static let unknownEventKey = Code(rawValue: "unknownEventKey")
        /// The same value listed twice in one array.
        public static let duplicateValue = Code(rawValue: "duplicateValue")
        /// A status id listed both as won and as lost.
        public static let conflictingStatusIDs = Code(rawValue: "conflictingStatusIDs")
        /// A string that is not one of the allowed choices (for example `identity.userId`).
        public static let invalidValue = Code(rawValue: "invalidValue")

        /// The raw value.
        public var description: String { rawValue }
    }

    /// The kind of problem.
    public var code: Code
    /// Where the problem is, e.g. `identity.userId`, `wonStatusIds[1]`, `leadFields["abc"]`; empty for the
    /// document as a whole.
    public var keyPath: String
    /// What is wrong and what to do, naming the key path.
    public var message: String

    /// An error with the given parts.
    public init(code: Code, keyPath: String, message: String) {
        self.code = code
        self.keyPath = keyPath
        self.message = message
    }

    /// `invalid mapping configuration: ` followed by ``message``.
    public var description: String { "invalid mapping configuration: \(message)" }
}
