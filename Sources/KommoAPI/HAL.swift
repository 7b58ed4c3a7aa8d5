import Foundation

/// An entity that arrives in HAL collections under `_embedded.<collectionKey>`.
protocol HALCollectionItem: Decodable, Sendable {
    /// The key of the collection array inside `_embedded`.
    static var collectionKey: String { get }
}

extension Lead: HALCollectionItem { static var collectionKey: String { "leads" } }
extension Contact: HALCollectionItem { static var collectionKey: String { "contacts" } }
extension Company: HALCollectionItem { static var collectionKey: String { "companies" } }
extension Pipeline: HALCollectionItem { static var collectionKey: String { "pipelines" } }
extension User: HALCollectionItem { static var collectionKey: String { "users" } }
extension LossReason: HALCollectionItem { static var collectionKey: String { "loss_reasons" } }
extension Note: HALCollectionItem { static var collectionKey: String { "notes" } }
extension KommoEvent: HALCollectionItem { static var collectionKey: String { "events" } }

/// One page of a HAL collection: its items and the `_links.next.href`, if any.
struct HALPage<Item: HALCollectionItem>: Decodable {
    var items: [Item]
    var next: URL?

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    init(from decoder: any Decoder) throws {
        let root = try decoder.container(keyedBy: Key.self)
        if let embedded = try? root.nestedContainer(keyedBy: Key.self, forKey: Key("_embedded")) {
            items = try embedded.decodeIfPresent([Item].self, forKey: Key(Item.collectionKey)) ?? []
        } else {
            items = []
        }
        let links = try? root.nestedContainer(keyedBy: Key.self, forKey: Key("_links"))
        let nextLink = try? links?.nestedContainer(keyedBy: Key.self, forKey: Key("next"))
        let href = (try? nextLink?.decodeIfPresent(String.self, forKey: Key("href"))) ?? nil
        next = href.flatMap { URL(string: $0) }
    }
}

/// Builds percent-encoded query strings in Kommo's PHP style: `filter%5Bid%5D%5B%5D=1&with=contacts,loss_reason`.
enum KommoQuery {
    /// Characters left as they are: RFC 3986 unreserved characters and the comma (list separator of `with`).
    private static let allowed: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~,")
        return set
    }()

    static func encode(_ items: [(String, String)]) -> String {
        items.map { name, value in
            escape(name) + "=" + escape(value)
        }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
