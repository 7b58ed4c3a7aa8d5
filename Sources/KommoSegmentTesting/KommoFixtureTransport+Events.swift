import Foundation
import HTTPCore
import JSONCore

// `GET /api/v4/events` (Kommo's events log, from `events.json`) and the paging every list shares.
extension KommoFixtureTransport {
    /// The events file at the root of the fixture directory.
    static let eventsFile = "events.json"

    /// `GET /api/v4/events`: the events of `events.json` that pass the filters, newest first, one page.
    func events(_ request: HTTPRequest, query: [(String, String)]) throws -> (HTTPResponse, Data) {
        var types: Set<String>?
        var entities: Set<String>?
        var createdFrom: Int64?
        var createdTo: Int64?
        var limit = 100
        var page = 1
        for (name, value) in query {
            if Self.isListParameter(name, named: "filter[type]") {
                guard let names = Self.names(value) else {
                    return problem(400, "Bad Request", "\(name) needs an event type")
                }
                types = (types ?? []).union(names)
            } else if Self.isListParameter(name, named: "filter[entity]") {
                guard let names = Self.names(value) else {
                    return problem(400, "Bad Request", "\(name) needs an entity type")
                }
                entities = (entities ?? []).union(names)
            } else if name == "filter[created_at][from]" || name == "filter[created_at][to]" {
                guard let seconds = Int64(value) else {
                    return problem(400, "Bad Request", "\(name) must be Unix seconds, not '\(value)'")
                }
                if name.hasSuffix("[from]") { createdFrom = seconds } else { createdTo = seconds }
            } else if name == "limit" {
                guard let number = Int(value), (1...100).contains(number) else {
                    return problem(400, "Bad Request", "limit must be 1...100, not '\(value)'")
                }
                limit = number
            } else if name == "page" {
                guard let number = Int(value), number >= 1 else {
                    return problem(400, "Bad Request", "page must be a positive integer, not '\(value)'")
                }
                page = number
            } else {
                return problem(400, "Bad Request", "unexpected query parameter '\(name)'")
            }
        }
        let matching = try loadEvents().filter { event in
            if let types, !types.contains(event.value["type"]?.stringValue ?? "") { return false }
            if let entities, !entities.contains(event.value["entity_type"]?.stringValue ?? "") { return false }
            if createdFrom != nil || createdTo != nil {
                guard let time = event.createdAt else { return false }
                if let createdFrom, time < createdFrom { return false }
                if let createdTo, time > createdTo { return false }
            }
            return true
        }.sorted { a, b in
            let (timeA, timeB) = (a.createdAt ?? .min, b.createdAt ?? .min)
            return timeA != timeB ? timeA > timeB : a.id > b.id
        }
        return halPage(matching.map(\.value), key: "events", page: page, limit: limit, request: request)
    }

    /// One event of the log with its sort keys.
    private struct LoggedEvent {
        var value: JSONValue
        /// `created_at` as Unix seconds (an integer, or a string of digits); `nil` when it is neither.
        var createdAt: Int64?
        /// `id` as text (Kommo's ids are strings; a number is read as its digits).
        var id: String
    }

    /// The events of `events.json`, in file order; none when the file does not exist.
    private func loadEvents() throws -> [LoggedEvent] {
        guard let data = read(Self.eventsFile) else { return [] }
        let document = try parse(data, name: Self.eventsFile)
        guard let events = document["_embedded"]?["events"]?.arrayValue else {
            throw FixtureFailure(detail: "the fixture file '\(Self.eventsFile)' has no _embedded.events array")
        }
        return try events.enumerated().map { index, event in
            guard event.objectValue != nil else {
                throw FixtureFailure(detail: "event \(index) of the fixture file '\(Self.eventsFile)' is not an "
                                         + "object")
            }
            let createdAt = event["created_at"]?.intValue ?? event["created_at"]?.stringValue.flatMap { Int64($0) }
            let id = event["id"]?.stringValue ?? event["id"]?.intValue.map { String($0) } ?? ""
            return LoggedEvent(value: event, createdAt: createdAt, id: id)
        }
    }

    /// The comma-separated names of a list parameter's value, trimmed; `nil` when there is none.
    private static func names(_ value: String) -> Set<String>? {
        let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return names.isEmpty ? nil : Set(names)
    }

    // MARK: Paging

    /// Page `page` of `items` (`limit` per page) as a HAL collection: `_page`, `_links.self` (the request's URL),
    /// `_links.next` when the next page has items, `_embedded.<key>`; 204 with an empty body when the page has none.
    func halPage(_ items: [JSONValue], key: String, page: Int, limit: Int, request: HTTPRequest,
                 extra: [String: JSONValue] = [:]) -> (HTTPResponse, Data) {
        let (start, overflow) = (page - 1).multipliedReportingOverflow(by: limit)
        guard !overflow, start < items.count else { return noContent() }
        let end = min(start + limit, items.count)
        var links: [String: JSONValue] = ["self": ["href": .string(request.url.absoluteString)]]
        if end < items.count {
            links["next"] = ["href": .string(Self.link(request.url, page: page + 1))]
        }
        var collection = extra
        collection["_page"] = .int(Int64(page))
        collection["_links"] = .object(links)
        collection["_embedded"] = .object([key: .array(Array(items[start..<end]))])
        return ok(.object(collection))
    }

    /// `url` (absolute, without a fragment) with its `page` parameter set to `page` (appended when absent); every
    /// other parameter is kept as it was sent, in order.
    static func link(_ url: URL, page: Int) -> String {
        let absolute = url.absoluteString
        let withoutFragment = absolute.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let halves = withoutFragment.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let replacement = "page=\(page)"
        var replaced = false
        var parameters: [String] = []
        if halves.count > 1 {
            for parameter in halves[1].split(separator: "&") {
                let name = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                if String(name).removingPercentEncoding == "page" {
                    if !replaced { parameters.append(replacement) }
                    replaced = true
                } else {
                    parameters.append(String(parameter))
                }
            }
        }
        if !replaced { parameters.append(replacement) }
        return String(halves[0]) + "?" + parameters.joined(separator: "&")
    }

    /// `name` is `base`, `base[]` or `base[<n>]` (the forms of a PHP array parameter such as `filter[id][]`).
    static func isListParameter(_ name: String, named base: String) -> Bool {
        guard name.hasPrefix(base) else { return false }
        let rest = name.dropFirst(base.count)
        if rest.isEmpty { return true }
        guard rest.hasPrefix("["), rest.hasSuffix("]"), rest.count >= 2 else { return false }
        return rest.dropFirst().dropLast().allSatisfy { $0.isASCII && $0.isNumber }
    }
}
