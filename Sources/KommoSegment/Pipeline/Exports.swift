@_exported import EventMapping
@_exported import KommoAPI
@_exported import SegmentAPI
