import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// The checkpoint stores, and the webhook item each kind of log event becomes.
@Suite("Catch-up checkpoints and events", .timeLimit(.minutes(1)))
struct CatchUpCheckpointTests {
    static func temporaryFile() throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-ckpt-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory.appendingPathComponent("checkpoints.json").path, directory)
    }

    @Test("the file store: none at first, forward only, per account, kept across instances, mode 0600")
    func fileStore() async throws {
        let (path, directory) = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = FileCatchUpCheckpointStore(path: path)
        #expect(try await store.checkpoint(for: 1) == nil)
        #expect(try await store.advance(1, to: 100) == 100)
        #expect(try await store.advance(1, to: 50) == 100)
        #expect(try await store.advance(2, to: 7) == 7)
        let reopened = FileCatchUpCheckpointStore(path: path)
        #expect(try await reopened.checkpoint(for: 1) == 100)
        #expect(try await reopened.checkpoint(for: 2) == 7)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == #"{"accounts":{"1":100,"2":7},"format":"kommo-segment-checkpoint\/v1"}"# + "\n")
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }

    @Test("the file store refuses a file that is not a checkpoint file, and a directory that does not exist",
          arguments: [#"{"accounts": {}}"#, #"{"format": "other/v9", "accounts": {}}"#,
                      #"{"format": "kommo-segment-checkpoint/v1", "accounts": {"acme": 1}}"#, "not json"])
    func malformedFile(content: String) async throws {
        let (path, directory) = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        let store = FileCatchUpCheckpointStore(path: path)
        await #expect { try await store.checkpoint(for: 1) } throws: { ($0 as? CatchUpError)?.code == .checkpointFailed }
        await #expect { try await store.advance(1, to: 5) } throws: { ($0 as? CatchUpError)?.code == .checkpointFailed }
        let missing = FileCatchUpCheckpointStore(path: directory.appendingPathComponent("no/such/dir/file.json").path)
        await #expect { try await missing.advance(1, to: 5) } throws: { ($0 as? CatchUpError)?.code == .checkpointFailed }
    }

    @Test("the memory store moves forward only")
    func memoryStore() async {
        let store = InMemoryCatchUpCheckpointStore([1: 10])
        #expect(await store.advance(1, to: 5) == 10)
        #expect(await store.advance(1, to: 20) == 20)
        #expect(await store.checkpoint(for: 2) == nil)
    }

    static func event(_ type: KommoEvent.EventType, before: [JSONValue] = [], after: [JSONValue] = [],
                      entity: String = "lead") -> KommoEvent {
        KommoEvent(id: "e", type: type, entityID: 24_000_017, entityType: entity,
                   createdAt: Date(timeIntervalSince1970: 1_768_912_200), accountID: 31_234_567, valueBefore: before,
                   valueAfter: after)
    }

    @Test("each kind of event becomes the webhook item of the same change, at the event's time")
    func eventsBecomeItems() throws {
        let time = Date(timeIntervalSince1970: 1_768_912_200)
        let stage = try #require(LeadEvent(catchUp: Self.event(
            .leadStatusChanged, before: [["lead_status": ["id": 61_000_005, "pipeline_id": 7_654_321]]],
            after: [["lead_status": ["id": 142, "pipeline_id": 7_654_321]]])))
        #expect(stage == LeadEvent(action: .status, id: 24_000_017, statusID: 142, pipelineID: 7_654_321,
                                   oldStatusID: 61_000_005, oldPipelineID: 7_654_321, accountID: 31_234_567,
                                   updatedAt: time))
        let change = KommoChange.changes(of: .lead(stage), accountID: 31_234_567)
        #expect(change.map(\.deduplicationChange) == ["stage:61000005>142"])
        let owner = try #require(LeadEvent(catchUp: Self.event(
            .entityResponsibleChanged, before: [["responsible_user": ["id": 9_000_001]]],
            after: [["responsible_user": ["id": 9_000_002]]])))
        #expect(owner.action == .responsible)
        #expect(owner.oldResponsibleUserID == 9_000_001)
        #expect(owner.responsibleUserID == 9_000_002)
        #expect(owner.eventTime == time)
        #expect(LeadEvent(catchUp: Self.event(.leadAdded))?.action == .add)
        #expect(LeadEvent(catchUp: Self.event(.leadDeleted))?.action == .delete)
        #expect(LeadEvent(catchUp: Self.event(.leadRestored))?.action == .restore)
        // Not a lead, not a type catch-up reads, or without the values a change needs.
        #expect(LeadEvent(catchUp: Self.event(.leadAdded, entity: "contact")) == nil)
        #expect(LeadEvent(catchUp: Self.event("task_added")) == nil)
        #expect(LeadEvent(catchUp: Self.event(.leadStatusChanged)) == nil)
        #expect(LeadEvent(catchUp: Self.event(.entityResponsibleChanged)) == nil)
    }
}
