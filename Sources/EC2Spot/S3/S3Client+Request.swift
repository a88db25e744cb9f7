import Crypto
import Foundation

/// One S3 REST call before addressing and signing.
struct S3Call: Sendable {
    /// The API operation name, for messages (`PutObject`).
    var operation: String
    var method: String
    var bucket: String
    /// The object key; nil for bucket-level operations.
    var key: String?
    /// Query parameters in order; a nil value is a bare name (`?uploads`).
    var query: [(String, String?)] = []
    var headers: [String: String] = [:]
    var body = Data()
    /// The largest response body accepted (nil: the transport's limit); a larger one fails
    /// with ``S3Error/responseTooLargeCode`` before it is read.
    var maximumResponseBytes: Int?

    /// `"PutObject s3://bucket/key"`, for messages.
    var context: String { "\(operation) s3://\(bucket)/\(key ?? "")" }
}

extension S3Client {
    // MARK: - Addressing

    /// Checks a bucket name against S3's rules: 3–63 characters of `a-z 0-9 . -`, starting
    /// and ending with a letter or digit, no `..`, not an IPv4 address. Every call checks
    /// its bucket this way before anything is sent; callers can check user input early.
    /// - Parameter bucket: The bucket name.
    /// - Throws: ``S3Error`` with code ``S3Error/invalidBucketNameCode``.
    public static func validateBucket(_ bucket: String) throws {
        let bytes = Array(bucket.utf8)
        func isAlnum(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        let valid = (3...63).contains(bytes.count)
            && bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
            && isAlnum(bytes.first ?? 0) && isAlnum(bytes.last ?? 0)
            && !bucket.contains("..")
            && !(bucket.split(separator: ".").count == 4 && bucket.split(separator: ".").allSatisfy { UInt8($0) != nil })
        guard valid else {
            throw S3Error(status: 0, code: S3Error.invalidBucketNameCode,
                          message: "bucket name '\(bucket)' is not a valid S3 bucket name "
                              + "(3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit)")
        }
    }

    /// Checks an object key: 1–1024 UTF-8 bytes, no control characters (XML 1.0 cannot
    /// carry them in list and delete documents), and, when the key goes in the URL path, no
    /// `.` or `..` segment (HTTP stacks and proxies may resolve those, so the request would
    /// reach another key).
    /// - Parameters:
    ///   - key: The key.
    ///   - inPath: Whether the key becomes the request path (false: an XML document).
    /// - Throws: ``S3Error`` with code ``S3Error/invalidKeyCode``.
    static func validateKey(_ key: String, inPath: Bool = true) throws {
        let reason: String?
        if key.isEmpty {
            reason = "is empty"
        } else if key.utf8.count > 1024 {
            reason = "is \(key.utf8.count) UTF-8 bytes long (S3's limit is 1024)"
        } else if key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            reason = "contains control characters"
        } else if inPath, key.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." }) {
            reason = "has a '.' or '..' path segment"
        } else {
            reason = nil
        }
        if let reason {
            throw S3Error(status: 0, code: S3Error.invalidKeyCode,
                          message: "object key '\(key.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : String($0) }.joined())' \(reason)")
        }
    }

    /// The URL of a call: the bucket in the host (virtual-hosted) or as the first path
    /// segment (path-style; also used for bucket names with dots over HTTPS, which no
    /// wildcard certificate covers), the key with each segment percent-encoded once and its
    /// `/`s kept, and the query percent-encoded, exactly as SigV4 canonicalizes them.
    /// - Throws: ``S3Error`` for an invalid bucket name or key.
    func url(for call: S3Call) throws -> URL {
        try Self.validateBucket(call.bucket)
        if let key = call.key { try Self.validateKey(key) }
        guard var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false),
              let host = components.host, !host.isEmpty else {
            throw S3Error(status: 0, code: "InvalidEndpoint", message: "\(call.context): endpoint \(endpoint) has no host")
        }
        var basePath = components.percentEncodedPath
        while basePath.hasSuffix("/") { basePath.removeLast() }
        let encodedKey = call.key.map { $0.split(separator: "/", omittingEmptySubsequences: false)
            .map { SigV4Signer.percentEncode(String($0)) }.joined(separator: "/") } ?? ""
        let dottedOverTLS = call.bucket.contains(".") && components.scheme?.lowercased() == "https"
        if addressing == .virtualHosted && !dottedOverTLS {
            components.host = "\(call.bucket).\(host)"
            components.percentEncodedPath = basePath + "/" + encodedKey
        } else {
            components.percentEncodedPath = basePath + "/" + call.bucket + "/" + encodedKey
        }
        if call.query.isEmpty {
            components.percentEncodedQuery = nil
        } else {
            components.percentEncodedQuery = call.query.map { name, value in
                let encodedName = SigV4Signer.percentEncode(name)
                return value.map { encodedName + "=" + SigV4Signer.percentEncode($0) } ?? encodedName
            }.joined(separator: "&")
        }
        guard let url = components.url else {
            throw S3Error(status: 0, code: "InvalidEndpoint", message: "\(call.context): cannot form a URL from endpoint \(endpoint)")
        }
        return url
    }

    // MARK: - Sending

    /// Sends `call` (retrying per ``retryPolicy`` while the error ``S3Error/isRetryable``)
    /// and returns the first 2xx response.
    /// - Parameter call: The call.
    /// - Returns: The successful response.
    /// - Throws: ``S3Error`` (transport failures and missing credentials wrapped), or
    ///   `CancellationError` when the task is cancelled during a backoff.
    func perform(_ call: S3Call) async throws -> HTTPResponse {
        try await perform(call) { $0 }
    }

    /// Sends `call` and decodes its 2xx response with `decode`, retrying per ``retryPolicy``
    /// while the error (of the exchange or of `decode`, such as an `<Error>` document with
    /// status 200) ``S3Error/isRetryable``.
    func perform<T>(_ call: S3Call, decode: (HTTPResponse) throws -> T) async throws -> T {
        let url = try url(for: call)
        var attempt = 1
        while true {
            do {
                return try decode(try await performOnce(call, url: url))
            } catch let error as S3Error {
                guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                try await clock.sleep(retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    /// Sends `call` and parses its XML body, whose root must be `rootName` (retrying an
    /// `<Error>` document that comes with status 200 like any retryable error).
    func performXML(_ call: S3Call, expecting rootNames: Set<String>) async throws -> (HTTPResponse, EC2XML.Element) {
        try await perform(call) { response in (response, try parseXML(response, call, expecting: rootNames)) }
    }

    private func performOnce(_ call: S3Call, url: URL) async throws -> HTTPResponse {
        let credentials: AWSCredentials
        do {
            guard let found = try await credentialsProvider.credentials() else {
                throw S3Error(status: 0, code: S3Error.noCredentialsCode,
                              message: "\(call.context): no AWS credentials found (provider \(credentialsProvider.name))")
            }
            credentials = found
        } catch let error as S3Error {
            throw error
        } catch {
            throw S3Error(status: 0, code: S3Error.noCredentialsCode,
                          message: "\(call.context): credentials provider \(credentialsProvider.name) failed: \(error)",
                          underlying: error)
        }
        let secrets = Self.secrets(of: credentials)
        var headers = call.headers
        headers["user-agent"] = "spottrain-ec2spot/\(EC2SpotLibrary.version)"
        let request = HTTPRequest(method: call.method, url: url, headers: headers, body: call.body, timeout: requestTimeout,
                                  maximumResponseBytes: call.maximumResponseBytes)
        let signer = SigV4Signer(credentials: credentials, region: region, service: "s3")
        let signed = signer.sign(request, date: clock.now(), signContentSHA256: true)
        let response: HTTPResponse
        do {
            response = try await transport.send(signed)
        } catch let error as TransportError {
            let redacted = TransportError(error.kind, Self.redact(error.message, secrets))
            if redacted.kind == .responseTooLarge {
                throw S3Error(status: 0, code: S3Error.responseTooLargeCode,
                              message: "\(call.context): \(redacted.message)", underlying: redacted)
            }
            throw S3Error(status: 0, code: S3Error.transportFailureCode,
                          message: "\(call.context): \(redacted)", underlying: redacted)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw S3Error(status: 0, code: S3Error.transportFailureCode,
                          message: "\(call.context): " + Self.redact(String(describing: error), secrets), underlying: error)
        }
        guard (200...299).contains(response.status) else {
            var scrubbed = response
            scrubbed.body = Data(Self.redact(String(decoding: response.body, as: UTF8.self), secrets).utf8)
            throw S3Error.decode(from: scrubbed, context: call.context).redacting(secrets)
        }
        return response
    }

    /// The strings that must never appear in output: the secret key and session token, raw
    /// and percent-encoded.
    static func secrets(of credentials: AWSCredentials) -> [String] {
        var values = [credentials.secretAccessKey]
        if let token = credentials.sessionToken { values.append(token) }
        return values + values.map(SigV4Signer.percentEncode)
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    static func redact(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { $0.count >= 4 }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[REDACTED]") }
    }

    /// Parses the XML body of a successful response; an `<Error>` document (which S3 can
    /// send with status 200, for example for `CompleteMultipartUpload`) is thrown as such.
    /// - Throws: ``S3Error``: the decoded error, or ``S3Error/malformedResponseCode``.
    func parseXML(_ response: HTTPResponse, _ call: S3Call, expecting rootNames: Set<String>) throws -> EC2XML.Element {
        let root: EC2XML.Element
        do {
            root = try EC2XML.parse(response.body)
        } catch {
            throw S3Error(status: response.status, code: S3Error.malformedResponseCode,
                          message: "\(call.context): response is not XML: " + EC2Error.bodyExcerpt(response.body),
                          requestId: response.headers["x-amz-request-id"])
        }
        if root.name == "Error" { throw S3Error.decode(from: response, context: call.context) }
        guard rootNames.contains(root.name) else {
            throw S3Error(status: response.status, code: S3Error.malformedResponseCode,
                          message: "\(call.context): expected <\(rootNames.sorted().joined(separator: "> or <"))>, got <\(root.name)>",
                          requestId: response.headers["x-amz-request-id"])
        }
        return root
    }

    // MARK: - Checksums

    /// The MD5 digest of `data` (S3's `Content-MD5` and single-part ETag).
    static func md5(_ data: Data) -> Data { Data(Insecure.MD5.hash(data: data)) }

    /// Lowercase hex of `bytes`.
    static func hex(_ bytes: Data) -> String { SigV4Signer.hex(bytes) }

    /// An ETag without its quotes, lowercased (`"ABC"` → `abc`).
    static func normalizedETag(_ etag: String?) -> String? {
        guard let etag else { return nil }
        var text = etag.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        return text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
    }

    /// Whether the response says the object is encrypted with KMS, in which case S3's ETag
    /// is not the MD5 of the content and cannot be checked.
    static func etagIsOpaque(_ response: HTTPResponse) -> Bool {
        let encryption = response.headers["x-amz-server-side-encryption"]?.lowercased() ?? ""
        return encryption.hasPrefix("aws:kms") || response.headers["x-amz-server-side-encryption-customer-algorithm"] != nil
    }

    /// Throws unless the response's ETag equals `expected` (normalized), or the ETag is opaque
    /// (KMS). A missing ETag is an error: the upload cannot be verified.
    func verifyETag(_ response: HTTPResponse, expected: String, _ call: S3Call) throws -> String {
        guard let etag = Self.normalizedETag(response.headers["etag"] ?? nil) else {
            throw S3Error(status: response.status, code: S3Error.checksumMismatchCode,
                          message: "\(call.context): response has no ETag, so the upload cannot be verified",
                          requestId: response.headers["x-amz-request-id"])
        }
        if etag != expected && !Self.etagIsOpaque(response) {
            throw S3Error(status: response.status, code: S3Error.checksumMismatchCode,
                          message: "\(call.context): ETag \(etag) does not match the MD5 of the bytes sent (\(expected))",
                          requestId: response.headers["x-amz-request-id"])
        }
        return etag
    }
}

/// XML text escaping for request documents.
enum S3XMLText {
    /// `text` with `& < > " '` escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
