// Every ```swift block of Documentation/*.md marked `<!-- snippet: server-package -->` compiles in this target: the
// files of Snippets/ hold them, one file per guide, and this suite checks that each block still appears there
// verbatim. It is the root package's rule (Tests/DocumentationTests/GuideSnippetTests.swift) for the snippets the root
// cannot compile. The root's comparison logic lives in another package's test target, which cannot be imported, so
// `Guide` below is a small copy of it: the same fence and marker reading, the same dedenting, the same "consecutive
// lines, indented as a whole" match.

import Foundation
import Testing

/// The repository's root: this file is Server/Tests/KommoSegmentServerTests/GuideSnippetTests.swift.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Reading the guides' Swift blocks.
enum Guide {
    /// One ```swift block: its 1-based line, the marker on the line before its fence, and its dedented lines.
    struct Block: CustomStringConvertible {
        let guide: String
        let line: Int
        let marker: String?
        let lines: [String]
        var description: String { "\(guide):\(line)" }

        /// The leading `import` statements.
        var imports: [String] {
            lines.prefix { $0.hasPrefix("import ") || $0.isEmpty }.filter { !$0.isEmpty }
                .map { $0.prefix { $0 != "/" }.trimmingCharacters(in: .whitespaces) }
        }

        /// The lines after the leading imports, without blank lines at either end.
        var body: [String] {
            var rest = Array(lines.drop { $0.hasPrefix("import ") || $0.isEmpty })
            while rest.last?.isEmpty == true { rest.removeLast() }
            return rest
        }
    }

    /// The lines of a file under the repository's root.
    static func lines(of path: String) throws -> [String] {
        try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Every ```swift block of `guide`.
    static func blocks(of guide: String) throws -> [Block] {
        let lines = try lines(of: guide)
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
            var marker: String?
            if fence > 0 {
                let previous = trimmed(lines[fence - 1])
                if previous.hasPrefix("<!-- snippet: "), previous.hasSuffix(" -->") {
                    marker = String(previous.dropFirst("<!-- snippet: ".count).dropLast(" -->".count))
                }
            }
            blocks.append(Block(guide: guide, line: fence + 1, marker: marker, lines: dedented(content)))
        }
        return blocks
    }

    static func trimmed(_ line: String) -> String { line.trimmingCharacters(in: .whitespaces) }

    /// `lines` without trailing white space and without the indentation they all share.
    static func dedented(_ lines: [String]) -> [String] {
        let stripped = lines.map { line -> String in
            var line = line
            while line.last == " " || line.last == "\t" || line.last == "\r" { line.removeLast() }
            return line
        }
        let indent = stripped.filter { !$0.isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return stripped.map { $0.isEmpty ? "" : String($0.dropFirst(indent)) }
    }

    /// Whether `body` appears in `source` as consecutive lines, all indented by the same run of spaces.
    static func contains(_ source: [String], _ body: [String]) -> Bool {
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

@Suite("Guide snippets of the Server package", .timeLimit(.minutes(1)))
struct GuideSnippetTests {
    /// The guides with Server-package snippets, and the file of this target that compiles each one's.
    static let guides = [
        ("Documentation/Deploying.md", "Server/Tests/KommoSegmentServerTests/Snippets/DeployingSnippets.swift"),
        ("Documentation/Server.md", "Server/Tests/KommoSegmentServerTests/Snippets/ServerSnippets.swift"),
    ]

    @Test("every server-package block of Deploying.md and Server.md is in its snippet file, verbatim")
    func everyBlockIsCompiled() throws {
        var compiled: [String: Int] = [:]
        for (guide, file) in Self.guides {
            let source = try Guide.lines(of: file)
            let imports = Set(source.filter { $0.hasPrefix("import ") })
            for block in try Guide.blocks(of: guide) where block.marker == "server-package" {
                for statement in block.imports {
                    #expect(imports.contains(statement), "\(block): `\(statement)` is not among the imports of \(file)")
                }
                #expect(Guide.contains(source, block.body), "\(block) does not appear verbatim in \(file)")
                compiled[guide, default: 0] += 1
            }
        }
        #expect(compiled == ["Documentation/Deploying.md": 3, "Documentation/Server.md": 1])
    }

    @Test("every Swift block of Server.md is compiled here: none is left unmarked or marked otherwise")
    func serverGuideIsAllServerPackage() throws {
        let markers = try Guide.blocks(of: "Documentation/Server.md").map(\.marker)
        #expect(!markers.isEmpty)
        #expect(markers.allSatisfy { $0 == "server-package" })
    }

    @Test("no guide outside Deploying.md and Server.md has server-package blocks that nothing compiles")
    func noUncompiledGuide() throws {
        let directory = repositoryRoot.appendingPathComponent("Documentation")
        let guides = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".md") }
        let covered = Set(Self.guides.map(\.0))
        for name in guides where !covered.contains("Documentation/\(name)") {
            let marked = try Guide.blocks(of: "Documentation/\(name)").filter { $0.marker == "server-package" }
            #expect(marked.isEmpty, "Documentation/\(name) has server-package snippets: compile them in Snippets/")
        }
    }

    @Test("the comparison reads indented blocks")
    func extraction() {
        let source = ["enum E {", "    let a = 1", "", "    print(a)", "}"]
        #expect(Guide.contains(source, ["let a = 1", "", "print(a)"]))
        #expect(!Guide.contains(source, ["let a = 1", "print(a)"]))
        #expect(Guide.dedented(["  - x", "    y  ", ""]) == ["- x", "  y", ""])
    }
}
