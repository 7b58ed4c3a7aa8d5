// This file imports only the `KommoSegment` product, so it compiles only while that product re-exports the
// internal targets (`HTTPCore`, `JSONCore`, `KommoModels`, `SegmentModels`) whose types its public API uses.
import KommoSegment
import Testing

@Suite("KommoSegment product imports", .timeLimit(.minutes(1)))
struct KommoSegmentProductImportTests {
    @Test("import KommoSegment alone names the pipeline and every building block")
    func namesTheTypesItsAPIUses() {
        let types: [Any.Type] = [
            KommoSegmentPipeline.self, KommoEventMapper.self, HTTPKommoClient.self, SegmentQueue.self,
            Lead.self, SegmentMessage.self, JSONValue.self, URLSessionTransport.self,
        ]
        #expect(!types.isEmpty)
    }
}
