// The project's rule: every code snippet in the guides compiles in a test target. The files `*Snippets.swift` of this
// target hold every ```swift block of README.md, Documentation/*.md and Sources/*/*.docc/*.md, one file per guide,
// each block wrapped in a function or a type so that it compiles. This suite reads the guides and checks that each
// block still appears in its file verbatim, so that a guide edit that is not mirrored here fails the tests.
//
// A block's leading `import` lines must be among the file's imports (they cannot sit inside a function); the rest
// must appear as consecutive lines, indented as a whole by any number of spaces. A block is skipped when the line
// before its fence is one of these markers:
//
// - `<!-- snippet: server-package -->`: it needs a framework this package must not depend on (Hummingbird,
//   ServiceLifecycle, swift-log), and compiles in the Server package's tests instead (Server/Tests/…/Snippets).
// - `<!-- snippet: vapor -->`: it needs Vapor, whose build does not fit in CI; it is documentation only.
// - `<!-- snippet: manifest -->`: a fragment of a user's `Package.swift`, which only a manifest can compile; the
//   products it names are checked against this package's manifest instead.

import Foundation
import Testing

/// The package's root directory, found from this file's path (`Tests/DocumentationTests/…`).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// One ```swift block of a guide.
struct GuideBlock: CustomStringConvertible {
    /// Why the block is not compiled here.
    enum Marker: String {
        case serverPackage = "server-package"
        case vapor
        case manifest
    }

    /// The guide's path from the package root.
    let guide: String
    /// The 1-based line of the opening fence.
    let line: Int
    /// The marker on the line before the fence, if any.
    let marker: Marker?
    /// The block's lines, with their common indentation removed.
    let lines: [String]

    var description: String { "\(guide):\(line)" }

    /// The leading `import` statements, without comments.
    var imports: [String] {
        lines.prefix { $0.hasPrefix("import ") || $0.isEmpty }.filter { !$0.isEmpty }.map(Guides.importStatement)
    }

    /// The lines after the leading imports, without blank lines at either end.
    var body: [String] {
        var rest = Array(lines.drop { $0.hasPrefix("import ") || $0.isEmpty })
        while rest.last?.isEmpty == true { rest.removeLast() }
        return rest
    }
}

/// Reading the guides.
enum Guides {
    /// README.md, Documentation/*.md and Sources/*/*.docc/*.md, as paths from the package root, sorted.
    static func paths() throws -> [String] {
        let files = FileManager.default
        var paths = ["README.md"]
        let documentation = packageRoot.appendingPathComponent("Documentation")
        paths += try files.contentsOfDirectory(atPath: documentation.path).filter { $0.hasSuffix(".md") }
            .map { "Documentation/\($0)" }
        let sources = packageRoot.appendingPathComponent("Sources")
        for module in try files.contentsOfDirectory(atPath: sources.path) {
            let catalog = "\(module).docc"
            let directory = sources.appendingPathComponent(module).appendingPathComponent(catalog)
            guard let pages = try? files.contentsOfDirectory(atPath: directory.path) else { continue }
            paths += pages.filter { $0.hasSuffix(".md") }.map { "Sources/\(module)/\(catalog)/\($0)" }
        }
        return paths.sorted()
    }

    /// The file of this target that holds the snippets of `guide`.
    static func snippetFile(for guide: String) -> String {
        let parts = guide.split(separator: "/").map(String.init)
        let stem = String((parts.last ?? guide).dropLast(".md".count))
        if parts.count == 1 { return "ReadmeSnippets.swift" }
        if parts.first == "Sources" { return "\(stem)DocCSnippets.swift" }
        if stem == "README" { return "DocumentationReadmeSnippets.swift" }
        return "\(stem)Snippets.swift"
    }

    /// The lines of a file under the package root.
    static func lines(of path: String) throws -> [String] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Every ```swift block of `guide`.
    static func blocks(of guide: String) throws -> [GuideBlock] {
        let lines = try lines(of: guide)
        var blocks: [GuideBlock] = []
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
            let found = try marker(before: fence, in: lines, of: guide)
            blocks.append(GuideBlock(guide: guide, line: fence + 1, marker: found, lines: dedented(content)))
        }
        return blocks
    }

    /// The marker on the line before the fence at `fence`.
    private static func marker(before fence: Int, in lines: [String], of guide: String) throws -> GuideBlock.Marker? {
        guard fence > 0 else { return nil }
        let previous = trimmed(lines[fence - 1])
        let prefix = "<!-- snippet: ", suffix = " -->"
        guard previous.hasPrefix(prefix), previous.hasSuffix(suffix) else { return nil }
        let name = String(previous.dropFirst(prefix.count).dropLast(suffix.count))
        guard let marker = GuideBlock.Marker(rawValue: name) else {
            throw UnknownMarker(guide: guide, name: name, line: fence)
        }
        return marker
    }

    struct UnknownMarker: Error, CustomStringConvertible {
        let guide: String
        let name: String
        let line: Int
        var description: String { "\(guide):\(line): unknown snippet marker \"\(name)\"" }
    }

    /// An `import` line without its trailing comment.
    static func importStatement(_ line: String) -> String {
        trimmed(String(line.prefix { $0 != "/" }))
    }

    static func trimmed(_ line: String) -> String {
        line.trimmingCharacters(in: .whitespaces)
    }

    /// `lines` without trailing white space and without the indentation they all share (blank lines become empty).
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
        guard !body.isEmpty else { return true }
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

@Suite("Guide snippets")
struct GuideSnippetTests {
    @Test("every ```swift block of the guides is in its snippet file, verbatim")
    func everyBlockIsCompiled() throws {
        var compiled = 0
        for guide in try Guides.paths() {
            let blocks = try Guides.blocks(of: guide).filter { $0.marker == nil }
            guard !blocks.isEmpty else { continue }
            let file = "Tests/DocumentationTests/\(Guides.snippetFile(for: guide))"
            let source = try #require(try? Guides.lines(of: file), "\(guide) has snippets: mirror them in \(file)")
            let imports = Set(source.filter { $0.hasPrefix("import ") }.map(Guides.importStatement))
            for block in blocks {
                for statement in block.imports {
                    let imported = imports.contains(statement)
                    #expect(imported, "\(block): `\(statement)` is not among the imports of \(file)")
                }
                let mirrored = Guides.contains(source, block.body)
                #expect(mirrored, "\(block) does not appear verbatim in \(file): edit both together")
                compiled += 1
            }
        }
        #expect(compiled > 0)
    }

    @Test("every snippet file belongs to a guide that has snippets")
    func noOrphanSnippetFiles() throws {
        var expected = Set<String>()
        for guide in try Guides.paths() {
            if try Guides.blocks(of: guide).contains(where: { $0.marker == nil }) {
                expected.insert(Guides.snippetFile(for: guide))
            }
        }
        let directory = packageRoot.appendingPathComponent("Tests/DocumentationTests")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix("Snippets.swift") }
        #expect(Set(files) == expected)
    }

    @Test("manifest snippets name only this package's library products")
    func manifestSnippetsNameRealProducts() throws {
        let manifest = try Guides.lines(of: "Package.swift").joined(separator: "\n")
        let library = try Regex(#"\.library\(name: "([^"]+)""#)
        let products = Set(manifest.matches(of: library).compactMap { $0.output[1].substring.map(String.init) })
        #expect(products.contains("KommoSegment"))
        let product = try Regex(#"\.product\(name: "([^"]+)", package: "kommo-segment-swift"\)"#)
        var named = 0
        for guide in try Guides.paths() {
            for block in try Guides.blocks(of: guide) where block.marker == .manifest {
                for match in block.lines.joined(separator: "\n").matches(of: product) {
                    let name = match.output[1].substring.map(String.init) ?? ""
                    #expect(products.contains(name), "\(block) names \"\(name)\", which is not a library product")
                    named += 1
                }
            }
        }
        #expect(named > 0)
    }

    @Test("the check reads indented blocks and markers")
    func extraction() {
        let source = ["func f() {", "    let a = 1", "", "    print(a)", "}"]
        #expect(Guides.contains(source, ["let a = 1", "", "print(a)"]))
        #expect(!Guides.contains(source, ["let a = 1", "print(a)"]))
        #expect(!Guides.contains(source, ["let a = 2"]))
        #expect(Guides.dedented(["  - x", "    y  ", ""]) == ["- x", "  y", ""])
        #expect(Guides.snippetFile(for: "README.md") == "ReadmeSnippets.swift")
        #expect(Guides.snippetFile(for: "Documentation/Testing.md") == "TestingSnippets.swift")
        #expect(Guides.snippetFile(for: "Sources/KommoSegment/KommoSegment.docc/KommoSegment.md")
                    == "KommoSegmentDocCSnippets.swift")
    }
}
