import Crypto
import Foundation

/// How a bucket appears in request URLs.
public enum S3AddressingStyle: Sendable, Equatable {
    /// `https://BUCKET.s3.REGION.amazonaws.com/KEY`: the form AWS recommends.
    case virtualHosted
    /// `ENDPOINT/BUCKET/KEY`: for custom endpoints (MinIO, moto, LocalStack, proxies).
    case path
}

/// A client for the S3 REST API, enough for a checkpoint store: put (single or multipart,
/// every upload verified), ranged get, list, delete, and the clean-up of multipart uploads
/// a killed run left open.
///
/// Requests are signed with SigV4 for the `s3` service, always with a signed
/// `x-amz-content-sha256`. Uploads carry `Content-MD5`, which S3 checks against the bytes it
/// received, and the client checks the returned ETag against the MD5 it computed (see
/// `Docs/S3.md`). Failed requests are retried per ``retryPolicy`` when ``S3Error/isRetryable``.
/// Everything it touches is injected: transport, credentials, clock, retry policy, endpoint.
public struct S3Client: Sendable {
    /// The signing region, for example `us-east-1`.
    public var region: String
    /// The service endpoint without a bucket (`https://s3.REGION.amazonaws.com` by default).
    public var endpoint: URL
    /// How buckets are addressed (virtual-hosted for AWS, path-style for custom endpoints).
    public var addressing: S3AddressingStyle
    /// The credentials source.
    public var credentialsProvider: any CredentialsProvider
    /// How requests travel.
    public var transport: any HTTPTransport
    /// Time (signing dates) and sleeping (backoff).
    public var clock: EC2Clock
    /// How many attempts, and the backoff between them.
    public var retryPolicy: RetryPolicy
    /// The timeout of each HTTP exchange (one part of a multipart upload is one exchange).
    public var requestTimeout: Duration
    /// When and how uploads are split into parts.
    public var multipart: S3MultipartConfiguration

    /// Creates a client.
    /// - Parameters:
    ///   - region: The region, for example `us-east-1`; must not be empty.
    ///   - endpoint: A custom endpoint (`http://127.0.0.1:5000`); nil for AWS's regional one.
    ///   - addressing: The addressing style; nil for virtual-hosted on AWS's endpoint and
    ///     path-style on a custom one.
    ///   - credentialsProvider: The credentials source.
    ///   - transport: How requests travel (default: the one ``EC2Client`` uses).
    ///   - clock: Time and sleeping (default: the system clock).
    ///   - retryPolicy: Attempts and backoff (default: ``RetryPolicy/standard``).
    ///   - requestTimeout: Timeout of each HTTP exchange.
    ///   - multipart: Threshold, part size and parallelism of multipart uploads.
    public init(region: String, endpoint: URL? = nil, addressing: S3AddressingStyle? = nil,
                credentialsProvider: any CredentialsProvider, transport: any HTTPTransport = AsyncHTTPClientTransport.aws(),
                clock: EC2Clock = .system, retryPolicy: RetryPolicy = .standard,
                requestTimeout: Duration = .seconds(120), multipart: S3MultipartConfiguration = .standard) {
        precondition(!region.isEmpty, "S3Client: region is empty")
        self.region = region
        self.endpoint = endpoint ?? Self.defaultEndpoint(region: region)
        self.addressing = addressing ?? (endpoint == nil ? .virtualHosted : .path)
        self.credentialsProvider = credentialsProvider
        self.transport = transport
        self.clock = clock
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
        self.multipart = multipart
    }

    /// The public S3 endpoint of `region` (`https://s3.<region>.amazonaws.com`,
    /// `.amazonaws.com.cn` in China).
    /// - Parameter region: The region.
    /// - Returns: The endpoint URL.
    public static func defaultEndpoint(region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://s3.\(region).\(suffix)")!
    }
}

/// When an upload is split into parts, how large they are and how many travel at once.
public struct S3MultipartConfiguration: Sendable, Equatable {
    /// Bodies of at least this many bytes go up as a multipart upload.
    public var threshold: Int
    /// The size of every part but the last (S3's minimum is 5 MiB). Raised automatically
    /// when a body would need more than 10,000 parts.
    public var partSize: Int
    /// Parts in flight at once.
    public var concurrency: Int

    /// S3's smallest allowed part (all parts but the last).
    public static let minimumPartSize = 5 * 1024 * 1024
    /// S3's largest part number.
    public static let maximumPartCount = 10_000

    /// Creates a configuration.
    /// - Parameters:
    ///   - threshold: Size from which uploads are multipart (≥ `partSize`).
    ///   - partSize: Size of each part but the last (≥ 5 MiB).
    ///   - concurrency: Parts in flight at once (≥ 1).
    public init(threshold: Int = 16 * 1024 * 1024, partSize: Int = 8 * 1024 * 1024, concurrency: Int = 4) {
        precondition(partSize >= Self.minimumPartSize,
                     "S3MultipartConfiguration: partSize \(partSize) < S3's minimum \(Self.minimumPartSize)")
        precondition(threshold >= partSize, "S3MultipartConfiguration: threshold \(threshold) < partSize \(partSize)")
        precondition(concurrency >= 1, "S3MultipartConfiguration: concurrency \(concurrency) < 1")
        self.threshold = threshold
        self.partSize = partSize
        self.concurrency = concurrency
    }

    /// 16 MiB threshold, 8 MiB parts, 4 in flight.
    public static var standard: S3MultipartConfiguration { S3MultipartConfiguration() }

    /// The part size used for a body of `count` bytes: ``partSize``, or larger when that
    /// would need more than 10,000 parts.
    /// - Parameter count: The body size in bytes.
    /// - Returns: The part size.
    public func effectivePartSize(for count: Int) -> Int {
        let needed = (count + Self.maximumPartCount - 1) / Self.maximumPartCount
        return max(partSize, needed)
    }
}
