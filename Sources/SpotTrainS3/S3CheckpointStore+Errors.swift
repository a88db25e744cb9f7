import EC2Spot
import SpotTrain

extension S3CheckpointStore {
    /// The ``SpotTrain/CheckpointStoreError`` for a failure of an S3 request (or of the checks
    /// around it), with the S3 error code as ``SpotTrain/CheckpointStoreError/serviceCode`` and
    /// the original error as ``SpotTrain/CheckpointStoreError/underlying``. A
    /// ``SpotTrain/CheckpointStoreError`` is returned unchanged; an error that is not an
    /// ``EC2Spot/S3Error`` becomes ``SpotTrain/CheckpointStoreError/Code/unavailable``.
    /// See ``storeErrorCode(for:)`` for the classes.
    /// - Parameters:
    ///   - error: What the client threw.
    ///   - operation: What the store was doing (`"cannot upload ckpt-000000000100.spt"`).
    ///   - location: The object or store concerned (`s3://bucket/key`).
    /// - Returns: The error to throw. Its description holds the S3 error's, from which the
    ///   client has removed every secret.
    public static func storeError(_ error: any Error, operation: String, location: String) -> CheckpointStoreError {
        if let error = error as? CheckpointStoreError { return error }
        guard let s3Error = error as? S3Error else {
            return CheckpointStoreError(.unavailable, "\(operation): \(error)", location: location, underlying: error)
        }
        return CheckpointStoreError(storeErrorCode(for: s3Error), "\(operation): \(s3Error)", location: location,
                                    serviceCode: s3Error.code, underlying: s3Error)
    }

    /// The class of an S3 failure, as seen after the client's own retries:
    /// - ``SpotTrain/CheckpointStoreError/Code/notFound``: `NoSuchKey`.
    /// - ``SpotTrain/CheckpointStoreError/Code/tooLarge``: ``EC2Spot/S3Error/responseTooLargeCode``.
    /// - ``SpotTrain/CheckpointStoreError/Code/corrupt``: the bytes S3 holds or sent are not
    ///   the bytes meant (``EC2Spot/S3Error/checksumMismatchCode``, `BadDigest`,
    ///   `XAmzContentSHA256Mismatch`).
    /// - ``SpotTrain/CheckpointStoreError/Code/unavailable``: what may pass (transport
    ///   failures, 5xx, throttling, `RequestTimeout`, `OperationAborted`, a malformed
    ///   response, `ExpiredToken` (temporary credentials are refreshed), and the codes of a
    ///   wrong local clock: `RequestTimeTooSkewed`, `RequestExpired`, `RequestInTheFuture`).
    /// - ``SpotTrain/CheckpointStoreError/Code/refused``: what no retry fixes: other 3xx and
    ///   4xx errors (`AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`,
    ///   `NoSuchBucket`, `PermanentRedirect` for a bucket in another region…),
    ///   no credentials, an invalid bucket name or key, a request the transport cannot send
    ///   (an invalid proxy setting). `NoCredentials` is refused when no source had any
    ///   credentials, and unavailable when a source failed (it may answer later).
    /// - Parameter error: The S3 error.
    /// - Returns: The class.
    public static func storeErrorCode(for error: S3Error) -> CheckpointStoreError.Code {
        let transportKind = (error.underlying as? TransportError)?.kind
        switch error.code {
        case "NoSuchKey":
            return .notFound
        case S3Error.responseTooLargeCode:
            return .tooLarge
        case S3Error.checksumMismatchCode, "BadDigest", "XAmzContentSHA256Mismatch":
            return .corrupt
        case S3Error.noCredentialsCode:
            // Nothing configured anywhere is refused; a provider that failed (the instance
            // role while IMDS is still starting, STS throttled) may work on a restart.
            return error.underlying == nil ? .refused : .unavailable
        case S3Error.invalidBucketNameCode, S3Error.invalidKeyCode:
            return .refused
        case S3Error.transportFailureCode:
            switch transportKind {
            case .unsupportedRequest: return .refused
            case .responseTooLarge: return .tooLarge
            default: return .unavailable
            }
        case S3Error.malformedResponseCode, "OperationAborted", "ExpiredToken", "TokenRefreshRequired":
            // Temporary credentials are refreshed by the provider on the next attempt.
            return .unavailable
        case let code where ClockSkewCorrection.timeOnlyErrorCodes.contains(code):
            // The local clock is off (a freshly booted instance): it gets synchronised.
            return .unavailable
        default:
            if error.isRetryable { return .unavailable }
            return (300...499).contains(error.status) ? .refused : .unavailable
        }
    }

    /// What an operation throws for `error`: `CancellationError` unchanged (the caller's task
    /// was cancelled), else ``storeError(_:operation:location:)``.
    static func failure(_ error: any Error, operation: String, location: String) -> any Error {
        if error is CancellationError { return error }
        return storeError(error, operation: operation, location: location)
    }

    /// The error for keys `DeleteObjects` reported it could not delete: ``SpotTrain/CheckpointStoreError/Code/unavailable``
    /// for S3's transient codes (`InternalError`, `SlowDown`…), else ``SpotTrain/CheckpointStoreError/Code/refused``
    /// (`AccessDenied`…).
    /// - Parameters:
    ///   - failure: The first key that failed.
    ///   - count: How many failed.
    ///   - operation: What the store was doing.
    ///   - location: `s3://bucket/key` of the first failure.
    static func deleteFailureError(_ failure: S3DeleteFailure, count: Int, operation: String,
                                   location: String) -> CheckpointStoreError {
        // The response was a 200 whose body lists the keys that failed.
        let s3Error = S3Error(status: 200, code: failure.code, message: "DeleteObjects \(location): \(failure.message)")
        let code: CheckpointStoreError.Code = S3Error.retryableCodes.contains(failure.code) ? .unavailable : .refused
        let others = count > 1 ? " (and \(count - 1) other key\(count == 2 ? "" : "s"))" : ""
        return CheckpointStoreError(code, "\(operation): S3 did not delete the object\(others): \(failure.code) \(failure.message)",
                                    location: location, serviceCode: failure.code.isEmpty ? nil : failure.code,
                                    underlying: s3Error)
    }
}
