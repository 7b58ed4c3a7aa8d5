// This file imports only the `SegmentAPI` product, so it compiles only while that product re-exports the
// internal targets (`HTTPCore`, `JSONCore`, `KommoModels`, `SegmentModels`) whose types its public API uses.
import SegmentAPI
import Testing

@Suite("SegmentAPI product imports", .timeLimit(.minutes(1)))
struct SegmentAPIProductImportTests {
    @Test("import SegmentAPI alone names the messages, JSONValue and the HTTP types")
    func namesTheTypesItsAPIUses() {
        let types: [Any.Type] = [
            SegmentQueue.self, SegmentMessage.self, SegmentWireEncoder.self, JSONValue.self,
            URLSessionTransport.self, (any HTTPTransport).self, RetryPolicy.self, WallClock.self,
            (any LogSink).self, SegmentDeliveryTicket.self,
        ]
        #expect(!types.isEmpty)
    }
}
