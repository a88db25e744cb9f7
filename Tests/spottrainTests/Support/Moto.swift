import Foundation
import Testing

/// moto, as `Scripts/ci/moto.sh start` exports it, checked through boto3.
enum Moto {
    /// `SPOTTRAIN_MOTO_ENDPOINT` when it names a loopback host, else nil.
    static var endpoint: String? {
        guard let text = ProcessInfo.processInfo.environment["SPOTTRAIN_MOTO_ENDPOINT"], let url = URL(string: text),
              let host = url.host, ["127.0.0.1", "localhost", "::1"].contains(host) else { return nil }
        return text
    }

    /// `SPOTTRAIN_MOTO_PYTHON` (the venv with boto3), else `python3` from PATH.
    static var interpreter: [String] {
        if let python = ProcessInfo.processInfo.environment["SPOTTRAIN_MOTO_PYTHON"], !python.isEmpty { return [python] }
        return ["/usr/bin/env", "python3"]
    }

    /// Runs a Python snippet in the hermetic environment.
    ///
    /// - Parameters:
    ///   - script: The program; it prints one JSON value.
    ///   - arguments: Its `sys.argv[1:]`.
    /// - Returns: The decoded standard output.
    /// - Throws: `Moto.PythonError` when Python fails; a decoding error when the output is not JSON.
    static func python(_ script: String, _ arguments: [String] = []) async throws -> Any {
        let command = interpreter
        let result = try await ChildProcess.run(Array(command.dropFirst()) + ["-c", script] + arguments,
                                                executable: URL(fileURLWithPath: command[0]), environment: .hermetic)
        guard result.status == 0 else {
            throw PythonError(description: "python failed (\(result.status)): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }

    /// Runs boto3 code with `ec2` bound to a client for moto.
    ///
    /// - Parameters:
    ///   - body: The code; it prints one JSON value.
    ///   - arguments: Its `sys.argv[1:]`.
    /// - Returns: The decoded standard output.
    /// - Throws: As `python`.
    static func boto3(_ body: String, _ arguments: [String] = []) async throws -> Any {
        let script = """
            import json, sys, boto3
            ec2 = boto3.client("ec2", endpoint_url=\(pythonString(endpoint ?? "")), region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

            """ + body
        return try await python(script, arguments)
    }

    /// Launches an instance in `zone`.
    ///
    /// - Returns: Its id.
    /// - Throws: As `python`, or when the answer is not a string.
    static func launch(zone: String) async throws -> String {
        let id = try await boto3("""
            r = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                  Placement={"AvailabilityZone": sys.argv[1]})
            print(json.dumps(r["Instances"][0]["InstanceId"]))
            """, [zone])
        return try #require(id as? String)
    }

    /// What boto3 sees of one volume.
    ///
    /// - Returns: `{"state", "zone", "attached_to": [...], "tags": {...}, "size"}`.
    /// - Throws: As `python`, or when the answer is not an object.
    static func volume(_ volumeId: String) async throws -> [String: Any] {
        let value = try await boto3("""
            v = ec2.describe_volumes(VolumeIds=[sys.argv[1]])["Volumes"][0]
            print(json.dumps({"state": v["State"], "zone": v["AvailabilityZone"], "size": v["Size"],
                              "attached_to": [a["InstanceId"] for a in v.get("Attachments", []) if a["State"] == "attached"],
                              "tags": {t["Key"]: t["Value"] for t in v.get("Tags", [])}}))
            """, [volumeId])
        return try #require(value as? [String: Any])
    }

    /// `text` as a double-quoted Python string literal.
    static func pythonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A Python helper exited with a failure.
    struct PythonError: Error, CustomStringConvertible {
        var description: String
    }
}
