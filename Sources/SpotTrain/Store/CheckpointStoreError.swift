/// An error of a ``CheckpointStore``.
///
/// ``code`` says what a caller can do about it: a ``Code/refused`` store will refuse again
/// (fix the configuration), an ``Code/unavailable`` one may work on a retry.
/// ``serviceCode`` carries the service's own error code (`AccessDenied`, `NoSuchBucket`,
/// `SignatureDoesNotMatch`, …) and ``underlying`` the error that caused it.
public struct CheckpointStoreError: Error, CustomStringConvertible, Sendable {
    /// The class of problem.
    public enum Code: String, Sendable, CaseIterable {
        /// The store refused the request, and would refuse it again: wrong or missing
        /// credentials, no such bucket or directory, access denied, an invalid name.
        case refused
        /// The store could not be reached or failed (network, timeouts, server errors),
        /// after the store's own retries.
        case unavailable
        /// The object does not exist.
        case notFound
        /// The object is larger than the caller accepts.
        case tooLarge
        /// What the store returned does not match what was stored (a checksum or ETag).
        case corrupt
    }

    /// The class of problem.
    public var code: Code
    /// What went wrong, naming the store, object and operation.
    public var message: String
    /// The store or object concerned (`s3://BUCKET/KEY`, a path).
    public var location: String
    /// The service's error code, when the service sent one (`AccessDenied`, …).
    public var serviceCode: String?
    /// The error that caused this one.
    public var underlying: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The class of problem.
    ///   - message: What went wrong.
    ///   - location: The store or object concerned.
    ///   - serviceCode: The service's own error code, if any.
    ///   - underlying: The cause.
    public init(_ code: Code, _ message: String, location: String, serviceCode: String? = nil,
                underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.serviceCode = serviceCode
        self.underlying = underlying
    }

    /// `location: message [serviceCode]`.
    public var description: String {
        "\(location): \(message)" + (serviceCode.map { " [\($0)]" } ?? "")
    }
}
