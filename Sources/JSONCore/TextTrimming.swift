/// Trimming of white space without Foundation's `trimmingCharacters(in:)`, which bridges every string through
/// `NSString` (a fifth of the time of mapping a webhook went there).
extension String {
    /// The text without leading and trailing white space (see `Substring.trimmingWhiteSpace(newlines:)`).
    package func trimmingWhiteSpace(newlines: Bool = true) -> String {
        self[...].trimmingWhiteSpace(newlines: newlines)
    }
}

extension Substring {
    /// The text without leading and trailing white space: the Unicode `White_Space` characters and U+200B, the
    /// same set as Foundation's `.whitespacesAndNewlines` (checked scalar by scalar); with `newlines: false`, line
    /// breaks are kept (Foundation's `.whitespaces`). A text with nothing to trim is returned without a copy of its characters.
    package func trimmingWhiteSpace(newlines: Bool = true) -> String {
        let utf8 = self.utf8
        // The common case: an ASCII character at both ends that is not white space.
        if let first = utf8.first, let last = utf8.last, first < 0x80, last < 0x80,
           !Self.isASCIISpace(first, newlines: newlines), !Self.isASCIISpace(last, newlines: newlines) {
            return String(self)
        }
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, Self.isTrimmed(scalars[start], newlines: newlines) { start = scalars.index(after: start) }
        while end > start, Self.isTrimmed(scalars[scalars.index(before: end)], newlines: newlines) {
            end = scalars.index(before: end)
        }
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    private static func isASCIISpace(_ byte: UInt8, newlines: Bool) -> Bool {
        switch byte {
        case 0x20, 0x09: true
        case 0x0A...0x0D: newlines
        default: false
        }
    }

    private static func isTrimmed(_ scalar: Unicode.Scalar, newlines: Bool) -> Bool {
        // Foundation's sets also hold U+200B ZERO WIDTH SPACE, which is not White_Space: trimmed too, as before.
        guard scalar.properties.isWhitespace || scalar.value == 0x200B else { return false }
        if newlines { return true }
        switch scalar.value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: return false
        default: return true
        }
    }
}

extension String {
    /// Whether the text is `upper` (written in ASCII capitals) in any mix of ASCII case: `"work"` and `"Work"` are
    /// `"WORK"`. Compares bytes in place, without building an upper-cased copy.
    package func equalsIgnoringASCIICase(_ upper: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: upper.utf8Start, count: upper.utf8CodeUnitCount)
        var index = 0
        for byte in utf8 {
            guard index < expected.count else { return false }
            let folded = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
            guard folded == expected[index] else { return false }
            index += 1
        }
        return index == expected.count
    }

    /// `lowercased()`, without a copy when there is nothing to lower: ASCII text without capitals is returned as
    /// it is.
    package func lowercasedIfNeeded() -> String {
        utf8.allSatisfy { $0 < 0x80 && !($0 >= 0x41 && $0 <= 0x5A) } ? self : lowercased()
    }
}
