// This file imports only the `EventMapping` product, so it compiles only while that product re-exports the
// internal targets (`HTTPCore`, `JSONCore`, `KommoModels`, `SegmentModels`) whose types its public API uses.
import EventMapping
import Testing

@Suite("EventMapping product imports", .timeLimit(.minutes(1)))
struct EventMappingProductImportTests {
    @Test("import EventMapping alone names the Kommo models, the messages and JSONValue")
    func namesTheTypesItsAPIUses() {
        let types: [Any.Type] = [
            KommoEventMapper.self, DealContext.self, Lead.self, KommoWebhookParser.self,
            SegmentMessage.self, SegmentWireEncoder.self, JSONValue.self,
        ]
        #expect(!types.isEmpty)
    }
}
