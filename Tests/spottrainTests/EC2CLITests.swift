import Foundation
import Testing

/// `spottrain ec2 …` without AWS: usage and runtime errors, and `watch` against the fake IMDS.
@Suite struct EC2CLITests {
    @Test func missingRequiredOptionIsAUsageError() async throws {
        let result = try await ChildProcess.run(["ec2", "ensure-volume", "--size-gib", "1", "--region", "us-east-1"],
                                                environment: .hermetic)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--name"))
        #expect(result.stdout.isEmpty)
    }

    @Test func invalidOptionValuesAreUsageErrors() async throws {
        for arguments in [["ec2", "describe-volumes", "--endpoint", "ftp://127.0.0.1/"],
                          ["ec2", "watch", "--poll-interval", "0"],
                          ["ec2", "detach-volume", "not-a-volume"],
                          ["ec2", "launch-spot", "--image-id", "ami-1", "--instance-type", "t3.micro", "--max-price", "-1"]] {
            let result = try await ChildProcess.run(arguments, environment: .hermetic)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func unreachableEndpointFailsWithOneLineError() async throws {
        let port = Fixtures.closedLoopbackPort()
        let result = try await ChildProcess.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", "http://127.0.0.1:\(port)", "--max-attempts", "1"],
                                                environment: .hermetic)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("spottrain: error: "))
        #expect(result.stderr.contains("127.0.0.1"))
    }

    @Test func noCredentialsAndNoIMDSFailsCleanly() async throws {
        // The instance-role provider sees IMDS disabled and the chain ends with "no credentials".
        let port = Fixtures.closedLoopbackPort()
        let result = try await ChildProcess.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", "http://127.0.0.1:\(port)"],
                                                environment: .hermetic(overriding: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""]))
        #expect(result.status == 1)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("no AWS credentials"))
    }

    @Test func watchOncePrintsNoticesAndExitsAtTheFirstInterruption() async throws {
        let imds = try FakeIMDSServer()
        // On an early throw the server is killed when `imds` is released (and it exits with its parent).
        // Two failing requests first: reported as warnings, polling goes on.
        try imds.control("fail", #"{"count": 2, "status": 500}"#)
        let watch = try ChildProcess(["ec2", "watch", "--once", "--poll-interval", "0.05",
                                      "--imds-endpoint", imds.endpoint], environment: .hermetic)
        // A rebalance recommendation is printed but does not end `--once`.
        try imds.control("rebalance")
        #expect(watch.wait(timeout: .seconds(60)) { watch.stdout.contains("rebalance-recommendation") })
        #expect(watch.isRunning)
        try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
        let result = await watch.exited(killingAfter: .seconds(60))
        imds.stop()

        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(result.stdout)")
        let notices = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
        #expect(notices.first?["kind"] == "rebalance-recommendation")
        #expect(notices.last?["kind"] == "terminate")
        #expect(lines.last?.contains(#""kind":"terminate""#) == true)
        let deadline = try #require(notices.last?["time"].flatMap { try? Date($0, strategy: .iso8601) })
        #expect(abs(deadline.timeIntervalSinceNow - 120) < 600)
        #expect(result.stderr.contains("spottrain: warning: IMDS check"), "\(result.stderr)")
    }
}

/// `spottrain ec2 …` against moto, checked independently with boto3.
@Suite(.enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct EC2CLIMotoTests {
    var endpoint: String { Moto.endpoint! }

    func ensureVolume(_ name: String, instanceId: String, zone: String) async throws -> [String: Any] {
        let result = try await ChildProcess.run(["ec2", "ensure-volume", "--endpoint", endpoint, "--region", "us-east-1",
                                                 "--instance-id", instanceId, "--availability-zone", zone,
                                                 "--name", name, "--size-gib", "2", "--device", "/dev/xvdf",
                                                 "--poll-interval", "0.1"], environment: .hermetic)
        #expect(result.status == 0, "\(result.stderr)")
        return try result.json()
    }

    @Test func ensureVolumeCreatesThenNoOpsThenReattachesThenMoves() async throws {
        let name = "cli-\(UUID().uuidString.prefix(8))"

        // 1. Nothing exists: created and attached.
        let first = try await Moto.launch(zone: "us-east-1a")
        let created = try await ensureVolume(name, instanceId: first, zone: "us-east-1a")
        #expect(created["action"] as? String == "created")
        let volumeId = try #require(created["volume_id"] as? String)
        #expect(created["instance_id"] as? String == first)
        #expect(created["availability_zone"] as? String == "us-east-1a")
        #expect(created["device"] as? String == "/dev/xvdf")
        #expect(created["nvme_device_by_id"] as? String
                == "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + volumeId.replacingOccurrences(of: "-", with: ""))
        var seen = try await Moto.volume(volumeId)
        #expect(seen["attached_to"] as? [String] == [first])
        #expect((seen["tags"] as? [String: String])?["spottrain:volume"] == name)
        #expect(seen["size"] as? Int == 2)

        // 2. Second run: a no-op.
        let again = try await ensureVolume(name, instanceId: first, zone: "us-east-1a")
        #expect(again["action"] as? String == "already_attached")
        #expect(again["volume_id"] as? String == volumeId)

        // describe-volumes finds it by name.
        let listed = try await ChildProcess.run(["ec2", "describe-volumes", "--endpoint", endpoint, "--region", "us-east-1",
                                                 "--name", name], environment: .hermetic)
        #expect(listed.status == 0, "\(listed.stderr)")
        let volumes = try #require(try listed.json()["volumes"] as? [[String: Any]])
        #expect(volumes.map { $0["volume_id"] as? String } == [volumeId])
        #expect(volumes.first?["name"] as? String == name)
        #expect(volumes.first?["live"] as? Bool == true)
        #expect((volumes.first?["attachments"] as? [[String: Any]])?.first?["instance_id"] as? String == first)
        // Without --name: every volume carrying the spottrain:volume tag, this one included.
        let project = try await ChildProcess.run(["ec2", "describe-volumes", "--endpoint", endpoint, "--region", "us-east-1"],
                                                 environment: .hermetic)
        let projectVolumes = try #require(try project.json()["volumes"] as? [[String: Any]])
        #expect(projectVolumes.contains { $0["volume_id"] as? String == volumeId })
        #expect(projectVolumes.allSatisfy { ($0["tags"] as? [String: String])?["spottrain:volume"] != nil })

        // 3. The instance dies holding the volume (stopped: moto detaches volumes of
        //    terminated instances at once); a new one in the same zone takes it over.
        _ = try await Moto.boto3(#"ec2.stop_instances(InstanceIds=[sys.argv[1]]); print("null")"#, [first])
        let second = try await Moto.launch(zone: "us-east-1a")
        let reattached = try await ensureVolume(name, instanceId: second, zone: "us-east-1a")
        #expect(reattached["action"] as? String == "reattached")
        #expect(reattached["previous_instance_id"] as? String == first)
        #expect(reattached["volume_id"] as? String == volumeId)
        seen = try await Moto.volume(volumeId)
        #expect(seen["attached_to"] as? [String] == [second])

        // 4. That instance is terminated and the next one starts in another zone: moved.
        _ = try await Moto.boto3(#"ec2.terminate_instances(InstanceIds=[sys.argv[1]]); print("null")"#, [second])
        let third = try await Moto.launch(zone: "us-east-1b")
        let moved = try await ensureVolume(name, instanceId: third, zone: "us-east-1b")
        #expect(moved["action"] as? String == "moved")
        #expect(moved["moved_from_volume_id"] as? String == volumeId)
        #expect(moved["moved_from_availability_zone"] as? String == "us-east-1a")
        #expect((moved["snapshot_id"] as? String)?.hasPrefix("snap-") == true)
        let copyId = try #require(moved["volume_id"] as? String)
        #expect(copyId != volumeId)
        let copy = try await Moto.volume(copyId)
        #expect(copy["zone"] as? String == "us-east-1b")
        #expect(copy["attached_to"] as? [String] == [third])
        #expect((copy["tags"] as? [String: String])?["spottrain:volume"] == name)
        let old = try await Moto.volume(volumeId)
        #expect((old["tags"] as? [String: String])?["spottrain:moved-to"] == copyId)
        #expect((old["tags"] as? [String: String])?["spottrain:state"] == "moved")
        // describe-volumes names the copy, and only the copy, as the live volume of the name.
        let afterMove = try await ChildProcess.run(["ec2", "describe-volumes", "--endpoint", endpoint,
                                                    "--region", "us-east-1", "--name", name], environment: .hermetic)
        #expect(afterMove.status == 0, "\(afterMove.stderr)")
        let lineage = try #require(try afterMove.json()["volumes"] as? [[String: Any]])
        let liveFlags = Dictionary(uniqueKeysWithValues: lineage.compactMap { entry in
            (entry["volume_id"] as? String).map { ($0, entry["live"] as? Bool) } })
        #expect(liveFlags == [copyId: true, volumeId: false])

        // 5. detach-volume finds the holder itself and waits.
        let detached = try await ChildProcess.run(["ec2", "detach-volume", copyId, "--endpoint", endpoint,
                                                   "--region", "us-east-1", "--wait", "--poll-interval", "0.1"],
                                                  environment: .hermetic)
        #expect(detached.status == 0, "\(detached.stderr)")
        let detachJSON = try detached.json()
        #expect(detachJSON["instance_id"] as? String == third)
        #expect(detachJSON["volume_state"] as? String == "available")
        #expect(try await Moto.volume(copyId)["attached_to"] as? [String] == [])
        _ = try await Moto.boto3(#"ec2.terminate_instances(InstanceIds=sys.argv[1:]); print("null")"#,
                                 [first, third])
    }

    @Test func launchSpotStartsTaggedSpotInstancesWithUserData() async throws {
        let name = "cli-launch-\(UUID().uuidString.prefix(8))"
        let userData = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).sh")
        let script = "#!/bin/bash\necho \"spottrain \(name)\"\n"
        try Data(script.utf8).write(to: userData)
        defer { try? FileManager.default.removeItem(at: userData) }

        let result = try await ChildProcess.run(["ec2", "launch-spot", "--endpoint", endpoint, "--region", "us-east-1",
                                                 "--image-id", "ami-12c6146b", "--instance-type", "t3.micro",
                                                 "--availability-zone", "us-east-1b", "--name", name,
                                                 "--user-data", userData.path, "--max-price", "0.05"], environment: .hermetic)
        #expect(result.status == 0, "\(result.stderr)")
        let ids = try #require(try result.json()["instance_ids"] as? [String])
        let id = try #require(ids.first)
        #expect(ids.count == 1)
        let seen = try #require(try await Moto.boto3("""
            import base64
            i = ec2.describe_instances(InstanceIds=[sys.argv[1]])["Reservations"][0]["Instances"][0]
            data = ec2.describe_instance_attribute(InstanceId=sys.argv[1], Attribute="userData")["UserData"]["Value"]
            print(json.dumps({"lifecycle": i.get("InstanceLifecycle"), "zone": i["Placement"]["AvailabilityZone"],
                              "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                              "user_data": base64.b64decode(data).decode()}))
            ec2.terminate_instances(InstanceIds=[sys.argv[1]])
            """, [id]) as? [String: Any])
        #expect(seen["lifecycle"] as? String == "spot")
        #expect(seen["zone"] as? String == "us-east-1b")
        let tags = try #require(seen["tags"] as? [String: String])
        #expect(tags["Name"] == name)
        #expect(tags["spottrain:instance"] == name)
        #expect(seen["user_data"] as? String == script)
    }
}
