/// A location inside a configuration document, rendered as `eventNames.dealWon`, `wonStatusIds[1]` or
/// `leadFields["abc"]`.
struct ConfigurationKeyPath: Sendable, Hashable {
    enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    init() {}

    /// The path of a nested decoder (when the configuration is part of a larger `Codable` document).
    init(codingPath: [any CodingKey]) {
        components = codingPath.map { key in
            if let index = key.intValue { .index(index) } else { .key(key.stringValue) }
        }
    }

    func appending(_ key: String) -> ConfigurationKeyPath {
        var copy = self
        copy.components.append(.key(key))
        return copy
    }

    func appending(index: Int) -> ConfigurationKeyPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    /// The path as text; empty for the document itself.
    var rendered: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let key) where Self.isIdentifier(key):
                if !out.isEmpty { out += "." }
                out += key
            case .key(let key):
                out += "[" + ConfigurationText.quoted(key) + "]"
            case .index(let index):
                out += "[\(index)]"
            }
        }
        return out
    }

    /// How a message refers to the path: the path itself, or "the top level" for the document.
    var location: String { components.isEmpty ? "the top level" : rendered }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || ("a"..."z").contains(first)
            || ("A"..."Z").contains(first) else { return false }
        return key.unicodeScalars.allSatisfy {
            $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        }
    }
}
