import EC2Spot
import Foundation
import Testing

/// An in-memory stand-in for S3's multipart API, answering by request shape; a test can make
/// one part, the completion or the final ETag fail.
final class FakeMultipartS3: @unchecked Sendable {
    private let lock = NSLock()
    var failingPart: Int?
    /// How many `CompleteMultipartUpload` calls answer an `<Error>` with status 200.
    var completeErrorsIn200 = 0
    var corruptFinalETag = false
    private(set) var partBodies: [Int: Data] = [:]
    private(set) var aborted: [String] = []
    private(set) var completed: [String] = []

    func handle(_ request: HTTPRequest) throws -> HTTPResponse {
        let query = request.queryItems
        switch (request.method, query.keys.contains("uploads"), query["uploadId"], query["partNumber"].flatMap { Int($0) }) {
        case ("POST", true, nil, nil):
            return S3Test.xml(200, "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>up/1+=</UploadId></InitiateMultipartUploadResult>")
        case ("PUT", false, "up/1+=", let part?):
            if part == failingPart { return S3Test.error(403, code: "AccessDenied") }
            #expect(request.headers["content-md5"] == S3Test.md5Base64(request.body))
            lock.withLock { partBodies[part] = request.body }
            return HTTPResponse(status: 200, headers: ["ETag": "\"\(S3Test.md5Hex(request.body))\""])
        case ("POST", false, "up/1+=", nil):
            let failNow: Bool = lock.withLock {
                completed.append("up/1+=")
                return completed.count <= completeErrorsIn200
            }
            if failNow { return S3Test.error(200, code: "InternalError", message: "try again") }
            let text = String(decoding: request.body, as: UTF8.self)
            let etags = text.components(separatedBy: "<ETag>&quot;").dropFirst().map { String($0.prefix(32)) }
            let etagsPlain = text.components(separatedBy: "<ETag>\"").dropFirst().map { String($0.prefix(32)) }
            let listed = etags.isEmpty ? etagsPlain : etags
            var joined = Data()
            for etag in listed { joined.append(Data(hex: etag)) }
            let final = corruptFinalETag ? String(repeating: "0", count: 32) : S3Test.md5Hex(joined)
            return S3Test.xml(200, "<CompleteMultipartUploadResult><ETag>&quot;\(final)-\(listed.count)&quot;</ETag></CompleteMultipartUploadResult>")
        case ("DELETE", false, let id?, nil):
            lock.withLock { aborted.append(id) }
            return HTTPResponse(status: 204)
        default:
            return S3Test.error(400, code: "UnexpectedRequest", message: S3ScriptedTransport.line(request))
        }
    }
}

extension Data {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index < hex.endIndex {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        self.init(bytes)
    }
}

@Suite struct S3MultipartTests {
    static let partSize = S3MultipartConfiguration.minimumPartSize
    static let config = S3MultipartConfiguration(threshold: partSize, partSize: partSize, concurrency: 2)
    static let body = S3Test.bytes(2 * partSize + 12_345)

    @Test func uploadAtTheThresholdGoesMultipartAndIsVerified() async throws {
        let fake = FakeMultipartS3()
        let transport = S3ScriptedTransport { try fake.handle($0) }
        let result = try await S3Test.client(transport, multipart: Self.config).upload(Self.body, bucket: "bkt", key: "run/big")
        #expect(result.partCount == 3)
        #expect(fake.partBodies.keys.sorted() == [1, 2, 3])
        #expect(fake.partBodies[1]?.count == Self.partSize)
        #expect(fake.partBodies[3]?.count == 12_345)
        #expect((1...3).reduce(into: Data()) { $0.append(fake.partBodies[$1]!) } == Self.body)
        let md5s = (1...3).reduce(into: Data()) { $0.append(ReferenceMD5.digest(fake.partBodies[$1]!)) }
        #expect(result.etag == ReferenceMD5.hex(md5s) + "-3")
        #expect(fake.aborted.isEmpty)

        let lines = transport.lines
        #expect(lines.first == "POST /bkt/run/big?uploads")
        #expect(lines.last == "POST /bkt/run/big?uploadId=up%2F1%2B%3D")
        #expect(Set(lines.dropFirst().dropLast()) == Set((1...3).map { "PUT /bkt/run/big?partNumber=\($0)&uploadId=up%2F1%2B%3D" }))
        let complete = String(decoding: try #require(transport.requests.last).body, as: UTF8.self)
        #expect(complete.contains("<Part><PartNumber>1</PartNumber>"))
        #expect(complete.range(of: "<PartNumber>1<")!.lowerBound < complete.range(of: "<PartNumber>3<")!.lowerBound)
    }

    @Test func belowTheThresholdUploadIsOneVerifiedPut() async throws {
        let transport = S3ScriptedTransport { request in HTTPResponse(status: 200, headers: ["etag": "\"\(S3Test.md5Hex(request.body))\""]) }
        let small = S3Test.bytes(Self.partSize - 1)
        let result = try await S3Test.client(transport, multipart: Self.config).upload(small, bucket: "bkt", key: "run/small")
        #expect(transport.lines == ["PUT /bkt/run/small"])
        #expect(result.etag == ReferenceMD5.hex(small))
    }

    @Test func aFailedPartAbortsTheUploadAndNothingIsCompleted() async throws {
        let fake = FakeMultipartS3()
        fake.failingPart = 2
        let transport = S3ScriptedTransport { try fake.handle($0) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport, multipart: Self.config).upload(Self.body, bucket: "bkt", key: "run/big")
        }
        #expect(error?.code == "AccessDenied")
        #expect(fake.aborted == ["up/1+="])
        #expect(fake.completed.isEmpty)
        #expect(transport.lines.last == "DELETE /bkt/run/big?uploadId=up%2F1%2B%3D")
    }

    @Test func anErrorDocumentWithStatus200FromCompleteIsAFailureAndAborts() async throws {
        let fake = FakeMultipartS3()
        fake.completeErrorsIn200 = 1
        let transport = S3ScriptedTransport { try fake.handle($0) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport, retry: .none, multipart: Self.config).upload(Self.body, bucket: "bkt", key: "run/big")
        }
        #expect(error?.code == "InternalError")
        #expect(error?.status == 200)
        #expect(fake.aborted == ["up/1+="])
    }

    @Test func anInternalErrorWithStatus200FromCompleteIsRetried() async throws {
        let fake = FakeMultipartS3()
        fake.completeErrorsIn200 = 1
        let transport = S3ScriptedTransport { try fake.handle($0) }
        let result = try await S3Test.client(transport, multipart: Self.config).upload(Self.body, bucket: "bkt", key: "run/big")
        #expect(result.partCount == 3)
        #expect(fake.completed.count == 2)
        #expect(fake.aborted.isEmpty)
    }

    @Test func aFinalETagThatDoesNotMatchThePartsIsRefused() async throws {
        let fake = FakeMultipartS3()
        fake.corruptFinalETag = true
        let transport = S3ScriptedTransport { try fake.handle($0) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await S3Test.client(transport, multipart: Self.config).upload(Self.body, bucket: "bkt", key: "run/big")
        }
        #expect(error?.code == S3Error.checksumMismatchCode)
    }

    @Test func cancellingAnUploadStillAbortsIt() async throws {
        let fake = FakeMultipartS3()
        let started = AsyncStream<Void>.makeStream()
        let gate = Counter()
        let transport = S3ScriptedTransport { request in
            if request.queryItems["partNumber"] == "2", gate.next() == 1 {
                started.continuation.yield()
                // Hold part 2 until the task is cancelled (the watchdog bounds a hang).
                let deadline = Date().addingTimeInterval(10)
                while !Task.isCancelled && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
                throw CancellationError()
            }
            return try fake.handle(request)
        }
        let client = S3Test.client(transport, multipart: Self.config)
        let upload = Task { try await client.upload(Self.body, bucket: "bkt", key: "run/big") }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        upload.cancel()
        let result = await upload.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(fake.aborted == ["up/1+="])
        #expect(fake.completed.isEmpty)
    }

    @Test func effectivePartSizeKeepsUnder10000Parts() {
        let config = S3MultipartConfiguration()
        #expect(config.effectivePartSize(for: 10) == config.partSize)
        let huge = 200_000 * 1024 * 1024
        #expect((huge + config.effectivePartSize(for: huge) - 1) / config.effectivePartSize(for: huge) <= 10_000)
    }

    @Test func leftOverUploadsUnderAPrefixAreListedAcrossPagesAndAborted() async throws {
        let aborted = Counter()
        let transport = S3ScriptedTransport { request in
            if request.method == "DELETE" { _ = aborted.next(); return HTTPResponse(status: 204) }
            #expect(request.queryItems["prefix"] == "run/")
            if request.queryItems["key-marker"] == nil {
                return S3Test.xml(200, """
                    <ListMultipartUploadsResult><IsTruncated>true</IsTruncated>
                    <Upload><Key>run/a</Key><UploadId>u1</UploadId><Initiated>2026-11-29T10:00:00.000Z</Initiated></Upload>
                    <NextKeyMarker>run/a</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker></ListMultipartUploadsResult>
                    """)
            }
            #expect(request.queryItems["upload-id-marker"] == "u1")
            return S3Test.xml(200, """
                <ListMultipartUploadsResult><IsTruncated>false</IsTruncated>
                <Upload><Key>run/b</Key><UploadId>u2</UploadId><Initiated>2026-11-29T13:00:00.000Z</Initiated></Upload>
                </ListMultipartUploadsResult>
                """)
        }
        let client = S3Test.client(transport)
        let all = try await client.listMultipartUploads(bucket: "bkt", prefix: "run/")
        #expect(all.map(\.uploadId) == ["u1", "u2"])
        let old = try await client.abortMultipartUploads(bucket: "bkt", prefix: "run/",
                                                         initiatedBefore: Date(timeIntervalSince1970: 1_795_953_600))
        #expect(old.map(\.key) == ["run/a"])
        #expect(transport.lines.last == "DELETE /bkt/run/a?uploadId=u1")
        #expect(aborted.next() == 2)
    }

    @Test func abortingAnUploadS3NoLongerKnowsSucceeds() async throws {
        let transport = S3ScriptedTransport { _ in S3Test.error(404, code: "NoSuchUpload") }
        try await S3Test.client(transport).abortMultipartUpload(bucket: "bkt", key: "k", uploadId: "gone")
        #expect(transport.requests.count == 1)
    }
}
