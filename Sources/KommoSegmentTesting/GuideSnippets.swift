import Foundation

/// Reads the ```swift blocks of Markdown guides and checks that each appears, verbatim, in a Swift file that a test
/// target compiles: the way this project proves that every snippet of its guides compiles, and one a package that
/// documents its own use of the SDK can reuse.
///
/// A block's leading `import` lines must be among the file's imports (they cannot sit inside a function); the rest
/// must appear as consecutive lines, indented as a whole by any number of spaces. A line `<!-- snippet: NAME -->`
/// just before a fence is the block's marker, which callers use to route or skip it.
///
/// ```swift
/// let guide = try GuideSnippets.lines(of: root.appendingPathComponent("Documentation/Deploying.md"))
/// let copy = try GuideSnippets.lines(of: root.appendingPathComponent("Tests/Docs/DeployingSnippets.swift"))
/// for block in GuideSnippets.blocks(in: guide, guide: "Deploying.md") where block.marker == nil {
///     #expect(GuideSnippets.contains(copy, block.body), "\(block) is not in the copy")
/// }
/// ```
public enum GuideSnippets {
    /// One ```swift block of a guide.
    public struct Block: Sendable, Hashable, CustomStringConvertible {
        /// The guide's name, as given to ``GuideSnippets/blocks(in:guide:)``.
        public let guide: String
        /// The 1-based line of the opening fence.
        public let line: Int
        /// `NAME` of a `<!-- snippet: NAME -->` line just before the fence, if there is one.
        public let marker: String?
        /// The block's lines, with their common indentation and trailing white space removed.
        public let lines: [String]

        /// Creates a block.
        public init(guide: String, line: Int, marker: String?, lines: [String]) {
            self.guide = guide
            self.line = line
            self.marker = marker
            self.lines = lines
        }

        /// `guide:line`.
        public var description: String { "\(guide):\(line)" }

        /// The leading `import` statements, without trailing comments.
        public var imports: [String] {
            lines.prefix { $0.hasPrefix("import ") || $0.isEmpty }.filter { !$0.isEmpty }
                .map(GuideSnippets.importStatement)
        }

        /// The lines after the leading imports, without blank lines at the end.
        public var body: [String] {
            var rest = Array(lines.drop { $0.hasPrefix("import ") || $0.isEmpty })
            while rest.last?.isEmpty == true { rest.removeLast() }
            return rest
        }
    }

    /// The lines of a text file.
    public static func lines(of file: URL) throws -> [String] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
    }

    /// Every ```swift block of a guide's `lines`; `guide` names it in each block's ``Block/description``.
    public static func blocks(in lines: [String], guide: String) -> [Block] {
        var blocks: [Block] = []
        var index = 0
        while index < lines.count {
            guard trimmed(lines[index]) == "```swift" else {
                index += 1
                continue
            }
            let fence = index
            var content: [String] = []
            index += 1
            while index < lines.count, trimmed(lines[index]) != "```" {
                content.append(lines[index])
                index += 1
            }
            index += 1
            blocks.append(Block(guide: guide, line: fence + 1, marker: marker(before: fence, in: lines),
                                lines: dedented(content)))
        }
        return blocks
    }

    /// `NAME` of a `<!-- snippet: NAME -->` line just before the line at `fence`.
    private static func marker(before fence: Int, in lines: [String]) -> String? {
        guard fence > 0 else { return nil }
        let previous = trimmed(lines[fence - 1])
        let prefix = "<!-- snippet: ", suffix = " -->"
        guard previous.hasPrefix(prefix), previous.hasSuffix(suffix) else { return nil }
        return String(previous.dropFirst(prefix.count).dropLast(suffix.count))
    }

    /// An `import` line without its trailing comment.
    public static func importStatement(_ line: String) -> String {
        trimmed(String(line.prefix { $0 != "/" }))
    }

    private static func trimmed(_ line: String) -> String {
        line.trimmingCharacters(in: .whitespaces)
    }

    /// `lines` without trailing white space and without the indentation they all share (blank lines become empty).
    public static func dedented(_ lines: [String]) -> [String] {
        let stripped = lines.map { line -> String in
            var line = line
            while line.last == " " || line.last == "\t" || line.last == "\r" { line.removeLast() }
            return line
        }
        let indent = stripped.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return stripped.map { $0.isEmpty ? "" : String($0.dropFirst(indent)) }
    }

    /// Whether `body` appears in `source` as consecutive lines, all indented by the same run of spaces.
    public static func contains(_ source: [String], _ body: [String]) -> Bool {
        guard let anchor = body.firstIndex(where: { !$0.isEmpty }) else { return true }
        let source = source.map { line -> String in
            var line = line
            while line.last == " " { line.removeLast() }
            return line
        }
        guard source.count >= body.count else { return false }
        for start in 0...(source.count - body.count) {
            let first = source[start + anchor]
            guard first.hasSuffix(body[anchor]) else { continue }
            let indent = String(first.dropLast(body[anchor].count))
            guard indent.allSatisfy({ $0 == " " }) else { continue }
            let matches = body.indices.allSatisfy { offset in
                body[offset].isEmpty ? source[start + offset].isEmpty : source[start + offset] == indent + body[offset]
            }
            if matches { return true }
        }
        return false
    }
}

/// Finds an executable product that the build put next to the running test bundle
/// (`.build/<configuration>/NAME`), for tests that run it as a process.
public enum BuiltProducts {
    /// The executable `name` next to the test bundle, or `nil` when the build did not produce it
    /// (`swift build --build-tests` builds every product; `swift test` alone may not).
    public static func executable(named name: String) -> URL? {
        var directories: [URL] = []
        if let first = CommandLine.arguments.first {
            directories.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        directories.append(Bundle.main.bundleURL)
        directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
        return directories.map { $0.appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
