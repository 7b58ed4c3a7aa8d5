// The ```swift blocks of Documentation/MappingConfiguration.md, compiled and run. GuideSnippetTests checks that each
// block appears here verbatim: edit both together.

import Foundation
import EventMapping
import Testing

@Suite("MappingConfiguration.md snippets")
struct MappingConfigurationSnippets {
    /// The opening example, on the guide's example file; the defaults are what `{}` loads.
    @Test("MappingConfiguration.md: the example file loads, and MappingConfiguration() is {}")
    func snippet1() throws {
        let url = packageRoot.appendingPathComponent("Documentation/mapping-configuration.example.json")
        let configuration = try MappingConfiguration.load(from: Data(contentsOf: url))  // strict, see "Errors"
        let defaults = MappingConfiguration()                                           // the same as loading {}
        #expect(configuration != defaults)
        #expect(try MappingConfiguration.load(from: Data("{}".utf8)) == defaults)
    }
}
