import JSONCore

/// How configuration error messages show what they quote: values shortened and escaped, JSON kinds named, and the
/// likely intended name suggested for a typo.
enum ConfigurationText {
    /// `text` in double quotes with JSON escaping, shortened to 60 characters.
    static func quoted(_ text: String) -> String {
        let short = text.count > 60 ? String(text.prefix(57)) + "..." : text
        var writer = JSONWriter(capacity: short.utf8.count + 2)
        writer.write(short)
        return writer.string
    }

    /// The kind of a JSON value, with a short preview of scalars: `a string ("142")`, `an array`, `null`.
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): "a boolean (\(flag))"
        case .int(let int): "an integer (\(int))"
        case .double: "a number (\(value.description))"
        case .string(let text): "a string (\(quoted(text)))"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The allowed name closest to `key` (ignoring case), if it is close enough to be a likely typo.
    static func suggestion(for key: String, among candidates: [String]) -> String? {
        let lowered = Array(key.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, Array(candidate.lowercased()))
            if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        guard let best else { return nil }
        let limit = max(2, best.name.count / 3)
        return best.distance <= limit ? best.name : nil
    }

    /// Levenshtein distance between two character arrays.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
