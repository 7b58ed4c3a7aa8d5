import EventMapping
import Foundation
import Testing

@Suite("Name-based UUIDs (version 5)", .timeLimit(.minutes(1)))
struct NameBasedUUIDTests {
    @Test("the RFC 9562 vector: www.example.com in the DNS namespace")
    func rfcVector() {
        let id = NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, name: "www.example.com")
        #expect(id.string == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
        #expect(id.description == id.string)
        #expect(id.uuid == UUID(uuidString: "2ED6657D-E927-568B-95E1-2665A8AEA6A2"))
        #expect(NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, nameBytes: Array("www.example.com".utf8)) == id)
    }

    /// Expected values from Python's `uuid.uuid5`.
    @Test("agrees with Python's uuid.uuid5", arguments: [
        ("DNS", "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d"),
        ("URL", "python.org", "7af94e2b-4dd9-50f0-9c9a-8a48519bdef0"),
        ("URL", "www.example.com", "b63cdfa4-3df9-568e-97ae-006c5b8fd652"),
        ("DNS", "Ольга Петрова", "621ce027-b3ed-5cc0-a346-c990b7a3c7bd"),
        ("URL", "Ольга Петрова", "164e1522-719a-52df-a553-c8e66bb982ea"),
        ("DNS", "😀👍🏽", "f73b3ea7-4b07-59a1-a7b4-f0f57298f39e"),
        ("URL", "😀👍🏽", "ccb6f2d4-f2ad-5634-81e6-b813bf82823c"),
        ("DNS", "«Ромашка» — ООО", "01569017-48b6-5590-9d31-3b7082d87a99"),
        ("URL", "«Ромашка» — ООО", "87c2d555-ce48-52c1-896c-a61b2ba0b5b7"),
    ])
    func python(namespace: String, name: String, expected: String) {
        let space = namespace == "DNS" ? NameBasedUUID.dnsNamespace : NameBasedUUID.urlNamespace
        #expect(NameBasedUUID(namespace: space, name: name).string == expected)
    }

    @Test("the well-known namespaces have their RFC values")
    func namespaces() {
        #expect(NameBasedUUID.dnsNamespace.uuidString.lowercased() == "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        #expect(NameBasedUUID.urlNamespace.uuidString.lowercased() == "6ba7b811-9dad-11d1-80b4-00c04fd430c8")
        #expect(NameBasedUUID.oidNamespace.uuidString.lowercased() == "6ba7b812-9dad-11d1-80b4-00c04fd430c8")
        #expect(NameBasedUUID.x500Namespace.uuidString.lowercased() == "6ba7b814-9dad-11d1-80b4-00c04fd430c8")
    }

    @Test("version 5 and the RFC variant are set, whatever the name", arguments: ["", "a", "kommo", "ё", "😀"])
    func versionAndVariant(name: String) {
        let id = NameBasedUUID(namespace: NameBasedUUID.oidNamespace, name: name)
        let bytes = withUnsafeBytes(of: id.uuid.uuid) { Array($0) }
        #expect(bytes[6] >> 4 == 5)
        #expect(bytes[8] >> 6 == 0b10)
        #expect(id.string.count == 36)
        #expect(id.string == id.string.lowercased())
        let characters = Array(id.string)
        #expect(characters[14] == "5")
        #expect([8, 13, 18, 23].allSatisfy { characters[$0] == "-" })
    }

    @Test("different namespaces or names give different UUIDs")
    func distinct() {
        let a = NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, name: "x")
        #expect(a != NameBasedUUID(namespace: NameBasedUUID.urlNamespace, name: "x"))
        #expect(a != NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, name: "y"))
        #expect(a == NameBasedUUID(namespace: NameBasedUUID.dnsNamespace, name: "x"))
    }
}
