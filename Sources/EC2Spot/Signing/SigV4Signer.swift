import Crypto
import Foundation

/// Signs HTTP requests with AWS Signature Version 4 (header-based, `AWS4-HMAC-SHA256`).
///
/// A pure value: the same credentials, region, service, request and date always give the
/// same signature, so it is tested against known answers from botocore
/// (`Scripts/sigv4_vectors.py`; S3's rules: `Scripts/s3_sigv4_vectors.py`). It signs every
/// header the request carries (except those AWS excludes, such as `user-agent`) plus `host`
/// (with the port when it is not the scheme's default), `x-amz-date` and, for temporary
/// credentials, `x-amz-security-token`. The path is URI-encoded once for S3 (`service`
/// `"s3"`) and twice for every other service, as SigV4 specifies.
public struct SigV4Signer: Sendable, Equatable {
    /// The credentials that sign.
    public var credentials: AWSCredentials
    /// The signing region, for example `us-east-1`.
    public var region: String
    /// The signing service name, for example `ec2` or `iam`.
    public var service: String

    /// Headers never signed (the hop-by-hop set botocore also leaves out).
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "x-amzn-trace-id",
    ]

    /// Creates a signer.
    /// - Parameters:
    ///   - credentials: The credentials to sign with.
    ///   - region: The signing region; must not be empty.
    ///   - service: The service name used in the credential scope; must not be empty.
    public init(credentials: AWSCredentials, region: String, service: String) {
        precondition(!region.isEmpty, "SigV4Signer: region is empty")
        precondition(!service.isEmpty, "SigV4Signer: service is empty")
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Returns `request` with `host`, `x-amz-date`, `x-amz-security-token` (when the
    /// credentials have one), optionally `x-amz-content-sha256`, and `authorization` set.
    /// - Parameters:
    ///   - request: The request to sign. Existing `authorization`, `x-amz-date` and
    ///     `x-amz-security-token` headers are replaced.
    ///   - date: The signing time (inject it; AWS rejects signatures more than 5 minutes off).
    ///   - signContentSHA256: Also send and sign `x-amz-content-sha256` (the body's hash).
    /// - Returns: The signed request.
    public func sign(_ request: HTTPRequest, date: Date, signContentSHA256: Bool = false) -> HTTPRequest {
        signature(for: request, date: date, signContentSHA256: signContentSHA256).signedRequest
    }

    /// Computes every intermediate of the signature, for tests and debugging.
    /// - Parameters:
    ///   - request: The request to sign.
    ///   - date: The signing time.
    ///   - signContentSHA256: Also send and sign `x-amz-content-sha256`.
    /// - Returns: The canonical request, string to sign, signature and signed request.
    public func signature(for request: HTTPRequest, date: Date, signContentSHA256: Bool = false) -> SigV4Signature {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        let payloadHash = Self.hex(SHA256.hash(data: request.body))

        var headers: [String: String] = [:]
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "x-amz-date" || lower == "x-amz-security-token" || lower == "authorization" { continue }
            headers[lower] = value
        }
        if headers["host"] == nil { headers["host"] = Self.hostHeader(for: request.url) }
        headers["x-amz-date"] = amzDate
        if let token = credentials.sessionToken { headers["x-amz-security-token"] = token }
        if signContentSHA256 { headers["x-amz-content-sha256"] = payloadHash }

        let signedNames = headers.keys.filter { !Self.unsignedHeaders.contains($0) }.sorted()
        let canonicalHeaders = signedNames.map { "\($0):\(Self.trimAll(headers[$0]!))\n" }.joined()
        let signedHeaders = signedNames.joined(separator: ";")
        let bodyHash = headers["x-amz-content-sha256"] ?? payloadHash

        let canonicalRequest = [
            request.method.uppercased(),
            Self.canonicalPath(request.url, service: service),
            Self.canonicalQuery(request.url),
            canonicalHeaders,
            signedHeaders,
            bodyHash,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256",
            amzDate,
            scope,
            Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        let signingKey = Self.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"

        var signed = request
        signed.headers = headers
        signed.headers["authorization"] = authorization
        return SigV4Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign,
                              signature: signature, signedHeaders: signedHeaders,
                              authorization: authorization, signedRequest: signed)
    }

    // MARK: - Pieces

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC, computed without a DateFormatter (which is not
    /// thread-safe on every platform and depends on locale).
    static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T"
            + pad(rest / 3600, 2) + pad(rest % 3600 / 60, 2) + pad(rest % 60, 2) + "Z"
    }

    /// The `Host` header: lowercase host, with the port unless it is the scheme's default.
    static func hostHeader(for url: URL) -> String {
        var host = (url.host ?? "").lowercased()
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        if let port = url.port {
            let scheme = url.scheme?.lowercased()
            let isDefault = (scheme == "https" && port == 443) || (scheme == "http" && port == 80)
            if !isDefault { host += ":\(port)" }
        }
        return host
    }

    /// The canonical URI: the path exactly as sent, with every segment URI-encoded once
    /// (decoded, then ``percentEncode(_:)``d, so `%7e` and `~` agree). Empty segments and a
    /// trailing `/` are kept (S3 keys such as `run/` depend on it). Every service but S3
    /// encodes each segment a second time; S3 alone uses the single encoding.
    /// - Parameters:
    ///   - url: The request URL.
    ///   - service: The signing service (`"s3"` selects the single encoding).
    static func canonicalPath(_ url: URL, service: String) -> String {
        let raw = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? url.path
        if raw.isEmpty { return "/" }
        return raw.split(separator: "/", omittingEmptySubsequences: false)
            .map { segment -> String in
                let once = percentEncode(String(segment).removingPercentEncoding ?? String(segment))
                return service == "s3" ? once : percentEncode(once)
            }
            .joined(separator: "/")
    }

    /// The canonical query: every name and value URI-encoded once (decoded, then
    /// ``percentEncode(_:)``d; `+` is a literal plus, not a space), sorted by name, then value;
    /// a name without `=` gets an empty value (`?uploads` signs as `uploads=`).
    static func canonicalQuery(_ url: URL) -> String {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery,
              !query.isEmpty else { return "" }
        func canonical(_ text: Substring) -> String {
            percentEncode(String(text).removingPercentEncoding ?? String(text))
        }
        let pairs = query.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (canonical(parts[0]), parts.count > 1 ? canonical(parts[1]) : "")
        }
        return pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Collapses runs of whitespace to one space and trims the ends (SigV4 "Trimall").
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .joined(separator: " ")
    }

    static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        let dateKey = hmac(SymmetricKey(data: Data("AWS4\(secret)".utf8)), day)
        return hmac(hmac(hmac(dateKey, region), service), "aws4_request")
    }

    /// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX` of its
    /// UTF-8 bytes (uppercase hex), as AWS requires for query strings and form bodies.
    /// - Parameter text: The text to encode.
    /// - Returns: The encoded text.
    public static func percentEncode(_ text: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Every intermediate of one SigV4 signature.
public struct SigV4Signature: Sendable, Equatable {
    /// The canonical request (method, path, query, headers, signed header names, payload hash).
    public var canonicalRequest: String
    /// The string to sign (algorithm, date, scope, hash of the canonical request).
    public var stringToSign: String
    /// The hex signature.
    public var signature: String
    /// The signed header names, `;`-separated, sorted.
    public var signedHeaders: String
    /// The `Authorization` header value.
    public var authorization: String
    /// The request with all signing headers set.
    public var signedRequest: HTTPRequest
}
