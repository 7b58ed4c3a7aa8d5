// This file imports only the `KommoAPI` product, so it compiles only while that product re-exports the
// internal targets (`HTTPCore`, `JSONCore`, `KommoModels`, `SegmentModels`) whose types its public API uses.
import KommoAPI
import Testing

@Suite("KommoAPI product imports", .timeLimit(.minutes(1)))
struct KommoAPIProductImportTests {
    @Test("import KommoAPI alone names the models, the parser, JSONValue and the HTTP types")
    func namesTheTypesItsAPIUses() {
        let types: [Any.Type] = [
            HTTPKommoClient.self, Lead.self, KommoWebhookParser.self, JSONValue.self,
            URLSessionTransport.self, (any HTTPTransport).self, RetryPolicy.self, WallClock.self,
            (any LogSink).self, KommoClientStatistics.self,
        ]
        #expect(!types.isEmpty)
    }
}
