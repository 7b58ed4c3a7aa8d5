import Foundation
import KommoSegmentTesting
import Testing

@Suite("GuideSnippets and BuiltProducts", .timeLimit(.minutes(1)))
struct GuideSnippetsTests {
    @Test("blocks are read with their line, marker, imports and body; a copy is found indented")
    func blocks() {
        let guide = [
            "# Guide", "```swift", "import Foundation   // for Data", "", "let a = 1", "```", "",
            "<!-- snippet: server-package -->", "  ```swift", "  let b = 2", "  ```",
        ]
        let blocks = GuideSnippets.blocks(in: guide, guide: "Guide.md")
        #expect(blocks.map(\.description) == ["Guide.md:2", "Guide.md:9"])
        #expect(blocks.map(\.marker) == [nil, "server-package"])
        #expect(blocks[0].imports == ["import Foundation"])
        #expect(blocks[0].body == ["let a = 1"])
        #expect(blocks[1].lines == ["let b = 2"])
        let copy = ["import Foundation", "func snippet() {", "    let a = 1", "}"]
        #expect(GuideSnippets.contains(copy, blocks[0].body))
        #expect(!GuideSnippets.contains(copy, blocks[1].body))
    }

    @Test("a product the build did not make is nil")
    func missingProduct() {
        #expect(BuiltProducts.executable(named: "no-such-product-\(UUID().uuidString)") == nil)
    }
}
