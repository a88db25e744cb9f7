import EC2Spot
import Foundation

/// Access to the moto servers started by `Scripts/ci/moto.sh start` (loopback only).
///
/// - `SPOTTRAIN_MOTO_ENDPOINT`: the open server (any credentials accepted).
/// - `SPOTTRAIN_MOTO_AUTH_ENDPOINT`: the server whose signature checking a test switches on.
/// - `SPOTTRAIN_MOTO_PYTHON`: a Python with boto3, for independent verification
///   (default `python3` from `PATH`).
enum Moto {
    static let environment = ProcessInfo.processInfo.environment

    static func url(_ variable: String) -> URL? {
        guard let text = environment[variable], !text.isEmpty, let url = URL(string: text),
              let host = url.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else { return nil }
        return url
    }

    static var endpoint: URL? { url("SPOTTRAIN_MOTO_ENDPOINT") }
    static var authEndpoint: URL? { url("SPOTTRAIN_MOTO_AUTH_ENDPOINT") }

    static let region = "us-east-1"
    static let image = "ami-12c6146b"

    static func client(_ endpoint: URL, credentials: AWSCredentials = AWSCredentials(accessKeyId: "testing",
                                                                                     secretAccessKey: "testing"),
                       retry: RetryPolicy = .standard) -> EC2Client {
        EC2Client(region: region, endpoint: endpoint, credentialsProvider: StaticCredentialsProvider(credentials),
                  transport: AsyncHTTPClientTransport.aws(), retryPolicy: retry, requestTimeout: .seconds(30))
    }

    /// Launches one spot instance in `zone` and returns its id.
    static func launch(_ client: EC2Client, zone: String) async throws -> String {
        let instances = try await client.runInstances(RunInstancesRequest(
            imageId: image, instanceType: "t3.micro", availabilityZone: zone,
            tagSpecifications: [TagSpecification(resourceType: "instance", tags: [Tag(key: "Name", value: "spottrain-test")])],
            spot: .init(), clientToken: UUID().uuidString))
        guard let id = instances.first?.instanceId else { throw MotoTestError("RunInstances returned no instance") }
        return id
    }

    /// Runs a Python snippet with boto3 (argv[1] = endpoint, further args appended) and
    /// decodes its JSON output.
    static func boto3<T: Decodable>(_ script: String, endpoint: URL, arguments: [String] = [],
                                    as type: T.Type) throws -> T {
        let process = Process()
        let python = environment["SPOTTRAIN_MOTO_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        process.executableURL = URL(fileURLWithPath: python ?? "/usr/bin/env")
        let prelude = """
            import json, sys, boto3
            ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="\(region)",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

            """
        process.arguments = (python == nil ? ["python3"] : []) + ["-c", prelude + script, endpoint.absoluteString] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw MotoTestError("boto3 check failed: \(errorText)") }
        return try JSONDecoder().decode(T.self, from: data)
    }
}

struct MotoTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What boto3 reports about one volume.
struct Boto3Volume: Decodable, Equatable {
    var id: String
    var state: String
    var zone: String
    var attachedTo: [String]
    var tags: [String: String]

    /// argv[2]: comma-separated volume ids; argv[3] (optional): an instance to stop afterwards.
    static let script = """
        volumes = ec2.describe_volumes(VolumeIds=sys.argv[2].split(","))["Volumes"]
        print(json.dumps([{"id": v["VolumeId"], "state": v["State"], "zone": v["AvailabilityZone"],
                           "attachedTo": [a["InstanceId"] for a in v.get("Attachments", []) if a["State"] == "attached"],
                           "tags": {t["Key"]: t["Value"] for t in v.get("Tags", [])}} for v in volumes]))
        if len(sys.argv) > 3:
            ec2.stop_instances(InstanceIds=[sys.argv[3]])
        """

    /// Describes volumes through boto3 (one Python process), optionally stopping an instance after.
    static func fetch(_ volumeIds: [String], endpoint: URL, thenStop instanceId: String? = nil) throws -> [String: Boto3Volume] {
        let list = try Moto.boto3(script, endpoint: endpoint,
                                  arguments: [volumeIds.joined(separator: ",")] + (instanceId.map { [$0] } ?? []),
                                  as: [Boto3Volume].self)
        return Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }
}
