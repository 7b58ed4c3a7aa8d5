/// The SDK's name and version, as sent in `User-Agent` and in Segment's `context.library`.
public enum SDKInfo {
    /// The library name: `kommo-segment-swift`.
    public static let name = "kommo-segment-swift"
    /// The library version (semantic versioning, as RudderStack requires).
    public static let version = "0.1.0"
    /// The `User-Agent` value: `kommo-segment-swift/<version>`.
    public static let userAgent = "\(name)/\(version)"
}
