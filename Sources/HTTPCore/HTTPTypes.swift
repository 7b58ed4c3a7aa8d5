import Foundation

/// An HTTP request method, such as `GET` or `POST`.
///
/// An open set: any method name can be expressed, and the common ones are static members.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method name as it appears on the request line, for example `"GET"`.
    public let rawValue: String

    /// Creates a method from its name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `GET`: read a resource.
    public static let get = HTTPMethod(rawValue: "GET")
    /// `POST`: submit data.
    public static let post = HTTPMethod(rawValue: "POST")
    /// `PUT`: replace a resource.
    public static let put = HTTPMethod(rawValue: "PUT")
    /// `PATCH`: update part of a resource.
    public static let patch = HTTPMethod(rawValue: "PATCH")
    /// `DELETE`: remove a resource.
    public static let delete = HTTPMethod(rawValue: "DELETE")

    /// The method name.
    public var description: String { rawValue }

    /// Whether repeating the request has the same effect as sending it once (RFC 9110 §9.2.2).
    public var isIdempotent: Bool {
        switch rawValue {
        case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE": true
        default: false
        }
    }
}

/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// Order and repeated names are preserved as given; lookups ignore ASCII case, as HTTP requires.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One header field: a name and its value.
    public struct Field: Sendable, Hashable {
        /// The field name as it was set (lookups ignore case).
        public var name: String
        /// The field value.
        public var value: String

        /// Creates a header field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    private var fields: [Field]

    /// Creates an empty header list.
    public init() { fields = [] }

    /// Creates a header list from fields, in order.
    public init(_ fields: [Field]) { self.fields = fields }

    /// Creates a header list from a literal such as `["Accept": "application/json"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// The first value of the named field, or `nil`; setting replaces every field of that name (`nil` removes them).
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveEquals(name) }?.value }
        set {
            let index = fields.firstIndex { $0.name.caseInsensitiveEquals(name) }
            fields.removeAll { $0.name.caseInsensitiveEquals(name) }
            guard let newValue else { return }
            fields.insert(Field(name: name, value: newValue), at: Swift.min(index ?? fields.count, fields.count))
        }
    }

    /// Every value of the named field, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// Appends a field, keeping any earlier field of the same name.
    public mutating func append(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// The number of fields.
    public var count: Int { fields.count }

    /// The field names only; values are never printed, because they may hold credentials.
    public var description: String {
        "[" + fields.map(\.name).joined(separator: ", ") + "]"
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in x.asciiLowercased == y.asciiLowercased }
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 { (0x41...0x5A).contains(self) ? self | 0x20 : self }
}

/// An HTTP request without its body: method, absolute URL, header fields and a total deadline.
public struct HTTPRequest: Sendable, Hashable, CustomStringConvertible {
    /// The request method.
    public var method: HTTPMethod
    /// The absolute URL, including any query.
    public var url: URL
    /// The header fields to send.
    public var headers: HTTPHeaders
    /// The longest the whole exchange may take, from sending the request to the last byte of the response.
    ///
    /// `nil` leaves the limit to the transport's own configuration.
    public var timeout: Duration?

    /// Creates a request.
    public init(method: HTTPMethod, url: URL, headers: HTTPHeaders = [:], timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.timeout = timeout
    }

    /// The method and the URL without its query (which may carry identifiers); header values are never shown.
    public var description: String {
        "\(method) \(url.redactedForLogs)"
    }
}

extension URL {
    /// Scheme, host, port and path, without user info, query or fragment.
    package var redactedForLogs: String {
        guard var components = URLComponents(url: self, resolvingAgainstBaseURL: false) else { return "<url>" }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "<url>"
    }
}

/// The head of an HTTP response: status code and header fields.
public struct HTTPResponse: Sendable, Hashable, CustomStringConvertible {
    /// The status code, for example `200`.
    public var status: Int
    /// The response header fields.
    public var headers: HTTPHeaders

    /// Creates a response head.
    public init(status: Int, headers: HTTPHeaders = [:]) {
        self.status = status
        self.headers = headers
    }

    /// Whether the status is in the 2xx range.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The status code.
    public var description: String { "HTTP \(status)" }
}
