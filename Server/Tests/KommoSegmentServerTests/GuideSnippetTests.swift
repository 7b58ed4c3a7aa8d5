// Every ```swift block of Documentation/*.md marked `<!-- snippet: server-package -->` compiles in this target: the
// files of Snippets/ hold them, one file per guide, and this suite checks that each block still appears there
// verbatim. It is the root package's rule (Tests/DocumentationTests/GuideSnippetTests.swift) for the snippets the root
// cannot compile, with the same reading and matching: `GuideSnippets` of KommoSegmentTesting.

import Foundation
import KommoSegmentTesting
import Testing

/// The repository's root: this file is Server/Tests/KommoSegmentServerTests/GuideSnippetTests.swift.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Reading the guides' Swift blocks, with the SDK's `GuideSnippets` (the root package's rule, shared).
enum Guide {
    /// The lines of a file under the repository's root.
    static func lines(of path: String) throws -> [String] {
        try GuideSnippets.lines(of: repositoryRoot.appendingPathComponent(path))
    }

    /// Every ```swift block of `guide`.
    static func blocks(of guide: String) throws -> [GuideSnippets.Block] {
        GuideSnippets.blocks(in: try lines(of: guide), guide: guide)
    }

    static func contains(_ source: [String], _ body: [String]) -> Bool { GuideSnippets.contains(source, body) }
    static func dedented(_ lines: [String]) -> [String] { GuideSnippets.dedented(lines) }
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
