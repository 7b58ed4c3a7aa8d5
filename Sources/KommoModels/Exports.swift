// `KommoModels` is not a product: `KommoAPI` and `EventMapping` re-export it, and with it the `JSONValue` of
// `JSONCore` that custom field values and unknown webhook sections are kept as.
@_exported import JSONCore
