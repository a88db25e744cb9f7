import EC2Spot
import SpotTrain

extension S3CheckpointStore {
    /// The longest prefix accepted, in UTF-8 bytes: room is left for a set-aside folder (up to
    /// 128 bytes) and a checkpoint name inside S3's 1024-byte key limit.
    public static let maximumPrefixBytes = 768

    /// Splits `s3://BUCKET/PREFIX` into its bucket and prefix, refusing what cannot be a
    /// store.
    ///
    /// `s3://BUCKET`, `s3://BUCKET/` (the bucket root) and `s3://BUCKET/PREFIX/` (one trailing
    /// `/` is dropped) are accepted. Refused: another scheme, no bucket, a bucket name S3's
    /// rules forbid (3–63 characters of `a-z 0-9 . -`, starting and ending with a letter or
    /// digit, no `..`, not an IPv4 address), control characters anywhere, a prefix with empty
    /// (`a//b`), `.` or `..` segments, or longer than ``maximumPrefixBytes``.
    /// - Parameter url: The URL as the user gave it.
    /// - Returns: The bucket, and the prefix without leading or trailing `/` (empty for the
    ///   bucket root).
    /// - Throws: ``SpotTrain/CheckpointStoreError/Code/refused``, with the URL (control
    ///   characters shown as `?`) as ``SpotTrain/CheckpointStoreError/location`` and in the
    ///   message.
    public static func parse(_ url: String) throws -> (bucket: String, prefix: String) {
        let shown = printable(url)
        func refuse(_ reason: String) -> CheckpointStoreError {
            CheckpointStoreError(.refused, "'\(shown)' is not an s3://BUCKET/PREFIX URL: \(reason)", location: shown)
        }
        if let reason = controlCharacterReason(url) { throw refuse(reason) }
        guard url.hasPrefix("s3://") else { throw refuse("it does not start with s3://") }
        // Split on bytes: a combining mark after a "/" must not hide it inside a Character.
        let rest = url.utf8.dropFirst("s3://".utf8.count)
        let slash = rest.firstIndex(of: UInt8(ascii: "/"))
        let bucket = String(decoding: rest[..<(slash ?? rest.endIndex)], as: UTF8.self)
        guard !bucket.isEmpty else { throw refuse("no bucket name") }
        var prefix = slash.map { String(decoding: rest[rest.index(after: $0)...], as: UTF8.self) } ?? ""
        if prefix.hasSuffix("/") { prefix.removeLast() }
        try checkBucket(bucket, argument: shown)
        try checkPrefix(prefix, argument: shown)
        return (bucket, prefix)
    }

    /// Throws unless `bucket` follows S3's bucket-naming rules.
    static func checkBucket(_ bucket: String, argument: String) throws {
        do {
            try S3Client.validateBucket(bucket)
        } catch let error as S3Error {
            throw CheckpointStoreError(.refused, "'\(argument)': bucket name '\(printable(bucket))' is invalid: it must be "
                                           + "3-63 characters of a-z, 0-9, '.' and '-', start and end with a letter or digit, "
                                           + "have no '..' and not be an IPv4 address",
                                       location: argument, serviceCode: error.code, underlying: error)
        }
    }

    /// Throws unless `prefix` is a usable key prefix: empty, or `/`-separated segments that
    /// are neither empty, `.` nor `..`, without control characters, at most
    /// ``maximumPrefixBytes`` long.
    static func checkPrefix(_ prefix: String, argument: String) throws {
        func refuse(_ reason: String) -> CheckpointStoreError {
            CheckpointStoreError(.refused, "'\(argument)': the prefix '\(printable(prefix))' \(reason)", location: argument)
        }
        guard !prefix.isEmpty else { return }
        if let reason = controlCharacterReason(prefix) { throw refuse(reason) }
        guard prefix.utf8.count <= maximumPrefixBytes else {
            throw refuse("is \(prefix.utf8.count) UTF-8 bytes long; at most \(maximumPrefixBytes) are accepted")
        }
        guard !prefix.hasPrefix("/"), !prefix.hasSuffix("/") else {
            throw refuse("must not start or end with '/'")
        }
        for segment in prefix.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw refuse("has an empty segment ('//')") }
            // S3 keeps them literally, but HTTP stacks and proxies resolve them to another key.
            if segment == "." || segment == ".." { throw refuse("has a '\(segment)' segment") }
        }
    }

    /// Why `text` is refused for control characters (C0, DEL, C1), or nil.
    static func controlCharacterReason(_ text: String) -> String? {
        text.unicodeScalars.contains(where: isControl) ? "it contains control characters" : nil
    }

    /// Whether a scalar is a C0 or C1 control character or DEL.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `text` for a message: control characters as `?`, at most 300 characters.
    static func printable(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? "?" : $0 }))
        return cleaned.count > 300 ? cleaned.prefix(300) + "…" : cleaned
    }
}
