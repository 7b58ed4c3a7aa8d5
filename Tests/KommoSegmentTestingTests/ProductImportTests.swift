// This file imports only the `KommoSegmentTesting` product, so it compiles only while that product re-exports the
// internal targets (`HTTPCore`, `JSONCore`, `KommoModels`, `SegmentModels`) whose types its public API uses.
import KommoSegmentTesting
import Testing

@Suite("KommoSegmentTesting product imports", .timeLimit(.minutes(1)))
struct KommoSegmentTestingProductImportTests {
    @Test("import KommoSegmentTesting alone names the clients its doubles stand in for")
    func namesTheTypesItsAPIUses() {
        let types: [Any.Type] = [
            KommoAPIFake.self, KommoFixtureTransport.self, Fixtures.self, HTTPKommoClient.self, SegmentQueue.self,
            Lead.self, SegmentMessage.self, JSONValue.self, (any HTTPTransport).self, ImmediateClock.self,
            ManualClock.self, WallClock.self, InMemorySegmentClient.self, InMemoryLogSink.self,
        ]
        #expect(!types.isEmpty)
    }
}
