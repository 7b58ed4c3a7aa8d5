@_exported import HTTPCore
@_exported import SegmentModels
