// Users import only `EventMapping`: the Kommo models it reads (`KommoModels`), the Segment messages it writes
// (`SegmentModels`) and the `JSONValue` of `JSONCore` in its configuration come with it.
@_exported import JSONCore
@_exported import KommoModels
@_exported import SegmentModels
