// A test target imports only `KommoSegmentTesting`: the Kommo client (`KommoAPI`, with the models, `HTTPCore` and
// `JSONCore`) and the Segment client (`SegmentAPI`) that its doubles stand in for come with it.
@_exported import KommoAPI
@_exported import SegmentAPI
