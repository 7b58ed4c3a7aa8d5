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
import KommoSegmentTesting
import Testing

/// The package's root directory, found from this file's path (`Tests/DocumentationTests/…`).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// One ```swift block of a guide, with its marker checked against the ones this suite knows.
struct GuideBlock: CustomStringConvertible {
    /// Why the block is not compiled here.
    enum Marker: String {
        case serverPackage = "server-package"
        case vapor
        case manifest
    }

    /// The block as `GuideSnippets` read it.
    let block: GuideSnippets.Block
    /// The marker on the line before the fence, if any.
    let marker: Marker?

    var description: String { block.description }
    var lines: [String] { block.lines }
    var imports: [String] { block.imports }
    var body: [String] { block.body }
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
        try GuideSnippets.lines(of: packageRoot.appendingPathComponent(path))
    }

    /// Every ```swift block of `guide`; a marker this suite does not know is an error.
    static func blocks(of guide: String) throws -> [GuideBlock] {
        try GuideSnippets.blocks(in: lines(of: guide), guide: guide).map { block in
            guard let name = block.marker else { return GuideBlock(block: block, marker: nil) }
            guard let marker = GuideBlock.Marker(rawValue: name) else {
                throw UnknownMarker(guide: guide, name: name, line: block.line - 1)
            }
            return GuideBlock(block: block, marker: marker)
        }
    }

    struct UnknownMarker: Error, CustomStringConvertible {
        let guide: String
        let name: String
        let line: Int
        var description: String { "\(guide):\(line): unknown snippet marker \"\(name)\"" }
    }

    static func importStatement(_ line: String) -> String { GuideSnippets.importStatement(line) }
    static func dedented(_ lines: [String]) -> [String] { GuideSnippets.dedented(lines) }
    static func contains(_ source: [String], _ body: [String]) -> Bool { GuideSnippets.contains(source, body) }
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
