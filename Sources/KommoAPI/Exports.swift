// Users import only `KommoAPI`: the entity models and the webhook parser of `KommoModels` (with the `JSONValue` of
// `JSONCore` they use) and the transport, retry and clock types of `HTTPCore` that the client's API takes come with it.
@_exported import HTTPCore
@_exported import KommoModels
