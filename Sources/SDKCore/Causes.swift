/// Whether two errors' causes read the same. Errors are not `Equatable`, so the SDK's error types compare the
/// descriptions of their `underlyingError`s (which never hold secrets) to keep `==` meaningful.
package func causesMatch(_ lhs: (any Error)?, _ rhs: (any Error)?) -> Bool {
    lhs.map { String(describing: $0) } == rhs.map { String(describing: $0) }
}
