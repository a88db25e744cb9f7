import Foundation
import Testing

/// The IAM policies of `Docs/iam/` against the EC2 actions the CLI really sends: every `ec2`
/// subcommand runs against moto through a logging proxy (`Scripts/ci/ec2_action_proxy.py`),
/// once with the operator's access key and once with the instance role's, as
/// `Docs/SpotWorkflow.md` assigns them. What each sends must be allowed by its policy, and
/// each policy must allow nothing its principal never sends. (Conditions and resources are
/// not evaluated: moto does not enforce IAM.)
@Suite(.enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct IAMPolicyCoverageTests {
    /// The access key ids that name the two principals in the proxy's log.
    static let operatorKey = "OPERATORKEY", instanceKey = "INSTANCEROLEKEY"

    /// The `ec2:` actions of the `Allow` statements of a policy file (without the prefix),
    /// and for each, the actions that make it needed: none for an action that is sent itself;
    /// for a statement conditioned on `ec2:CreateAction` (tagging while creating, which IAM
    /// checks as `ec2:CreateTags` although only the create action is sent), those actions.
    static func allowedEC2Actions(_ file: String) throws -> [(action: String, impliedBy: [String])] {
        let data = try Data(contentsOf: Fixtures.packageRoot.appendingPathComponent("Docs/iam/\(file)"))
        let policy = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let statements = try #require(policy["Statement"] as? [[String: Any]])
        var actions: [(action: String, impliedBy: [String])] = []
        for statement in statements where statement["Effect"] as? String == "Allow" {
            let listed = (statement["Action"] as? [String]) ?? [(statement["Action"] as? String)].compactMap { $0 }
            let condition = (statement["Condition"] as? [String: Any])?["StringEquals"] as? [String: Any]
            let creates = (condition?["ec2:CreateAction"] as? [String]) ?? [(condition?["ec2:CreateAction"] as? String)].compactMap { $0 }
            for action in listed where action.hasPrefix("ec2:") { actions.append((String(action.dropFirst(4)), creates)) }
        }
        return actions
    }

    /// The proxy, started on a free loopback port in front of moto.
    final class Proxy {
        let process: ChildProcess
        let log: URL
        let endpoint: String

        /// - Parameter failRunInstances: EC2 error codes for the first `RunInstances` requests.
        init(failRunInstances: [String] = []) throws {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("iam-actions-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let script = Fixtures.packageRoot.appendingPathComponent("Scripts/ci/ec2_action_proxy.py")
            let python = Moto.interpreter
            let child = try ChildProcess(Array(python.dropFirst()) + [script.path, Moto.endpoint ?? "", log.path,
                                                                    failRunInstances.joined(separator: ",")],
                                         executable: URL(fileURLWithPath: python[0]), environment: .hermetic)
            let started = child.wait(timeout: .seconds(60)) { child.stdout.contains("\n") || !child.isRunning }
            let port = child.stdout.split(separator: "\n").first.map(String.init) ?? ""
            guard started, Int(port) != nil else {
                throw Moto.PythonError(description: "the proxy did not start: \(child.stdout) \(child.stderr)")
            }
            process = child
            endpoint = "http://127.0.0.1:\(port)"
        }

        /// `(access key, action)` of every request so far.
        func entries() throws -> [(key: String, action: String)] {
            try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map {
                let parts = $0.split(separator: " ")
                return (String(parts.first ?? ""), String(parts.last ?? ""))
            }
        }

        deinit {
            process.signal(SIGTERM)
            try? FileManager.default.removeItem(at: log)
        }
    }

    /// Runs `spottrain ec2 <arguments>` through the proxy as `key`; expects status 0.
    static func ec2(_ arguments: [String], as key: String, proxy: Proxy) async throws -> [String: Any] {
        let result = try await ChildProcess.run(
            ["ec2"] + arguments + ["--endpoint", proxy.endpoint, "--region", "us-east-1"],
            environment: .hermetic(overriding: ["AWS_ACCESS_KEY_ID": key]))
        #expect(result.status == 0, "\(arguments.first ?? ""): \(result.stderr)")
        return try result.json()
    }

    @Test func everySubcommandSendsOnlyWhatItsPrincipalsPolicyAllowsAndThePoliciesAllowNothingMore() async throws {
        let proxy = try Proxy()
        let name = "iam-\(UUID().uuidString.prefix(8))"
        var exercised: Set<String> = ["watch"] // IMDS only: no EC2 action (EC2CLITests runs it)
        func volume(_ instanceId: String, _ zone: String) async throws -> [String: Any] {
            try await Self.ec2(["ensure-volume", "--instance-id", instanceId, "--availability-zone", zone, "--name", name,
                                "--size-gib", "1", "--poll-interval", "0.1"], as: Self.instanceKey, proxy: proxy)
        }

        // The operator launches (with --wait, falling back over two types) ...
        let launched = try await Self.ec2(["launch-spot", "--image-id", "ami-12c6146b", "--instance-type", "t3.micro",
                                           "--instance-type", "t3.small", "--availability-zone", "us-east-1a",
                                           "--name", name, "--wait", "--metadata-hop-limit", "2"],
                                          as: Self.operatorKey, proxy: proxy)
        exercised.insert("launch-spot")
        let first = try #require((launched["instance_ids"] as? [String])?.first)
        // ... the instance role creates, takes over and moves the volume, and reports a failure ...
        let created = try await volume(first, "us-east-1a")
        #expect(created["action"] as? String == "created")
        #expect(created["fresh"] as? Bool == true)
        _ = try await Moto.boto3(#"ec2.stop_instances(InstanceIds=[sys.argv[1]]); print("null")"#, [first])
        let second = try await Moto.launch(zone: "us-east-1a")
        let reattached = try await volume(second, "us-east-1a")
        #expect(reattached["action"] as? String == "reattached")
        #expect(reattached["fresh"] as? Bool == false)
        _ = try await Moto.boto3(#"ec2.terminate_instances(InstanceIds=[sys.argv[1]]); print("null")"#, [second])
        let third = try await Moto.launch(zone: "us-east-1b")
        let moved = try await volume(third, "us-east-1b")
        #expect(moved["action"] as? String == "moved")
        exercised.insert("ensure-volume")
        let reported = try await Self.ec2(["report-boot-failure", "--instance-id", third, "--reason", "test: no device"],
                                          as: Self.instanceKey, proxy: proxy)
        #expect(reported["reason"] as? String == "test: no device")
        exercised.insert("report-boot-failure")
        // ... and the operator lists and detaches it.
        _ = try await Self.ec2(["describe-volumes", "--name", name], as: Self.operatorKey, proxy: proxy)
        exercised.insert("describe-volumes")
        let copy = try #require(moved["volume_id"] as? String)
        _ = try await Self.ec2(["detach-volume", copy, "--wait", "--poll-interval", "0.1"], as: Self.operatorKey, proxy: proxy)
        exercised.insert("detach-volume")
        _ = try await Moto.boto3(#"ec2.terminate_instances(InstanceIds=sys.argv[1:]); print("null")"#, [first, third])

        // Every ec2 subcommand the CLI offers was run.
        let help = try await ChildProcess.run(["ec2", "--help"], environment: .hermetic)
        // Subcommand lines are indented two spaces; wrapped abstracts more.
        let listed = help.stdout.components(separatedBy: "SUBCOMMANDS:").last?.split(separator: "\n")
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && !$0.hasPrefix("  See ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) } ?? []
        #expect(!listed.isEmpty, "\(help.stdout)")
        #expect(Set(listed).isSubset(of: exercised), "not exercised: \(Set(listed).subtracting(exercised))")

        let entries = try proxy.entries()
        for (key, file) in [(Self.operatorKey, "operator-policy.json"), (Self.instanceKey, "instance-role-policy.json")] {
            let sent = Set(entries.filter { $0.key == key }.map(\.action))
            let statements = try Self.allowedEC2Actions(file)
            let allowed = Set(statements.map(\.action))
            #expect(!sent.isEmpty)
            #expect(sent.isSubset(of: allowed), "\(file) lacks \(sent.subtracting(allowed).sorted())")
            // DeleteVolume is sent only when a run undoes a move that died before its commit
            // (the uncommitted `pending` copy); PersistentVolumeMotoTests' fault sweep sends it.
            // This happy-path session never does.
            let recoveryOnly: Set<String> = ["DeleteVolume"]
            for statement in statements where !recoveryOnly.contains(statement.action) {
                let needs = statement.impliedBy.isEmpty ? [statement.action] : statement.impliedBy
                #expect(Set(needs).isSubset(of: sent),
                        "\(file) allows \(statement.action), but \(needs) is never sent by its principal")
            }
        }
        #expect(Set(entries.map(\.key)).isSubset(of: [Self.operatorKey, Self.instanceKey]))
    }

    @Test func docsShowThePolicyFilesVerbatim() throws {
        let doc = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("Docs/SpotWorkflow.md"), encoding: .utf8)
        for file in ["operator-policy.json", "instance-role-policy.json"] {
            #expect(doc.contains("(iam/\(file))"), "Docs/SpotWorkflow.md does not link \(file)")
            let text = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("Docs/iam/\(file)"), encoding: .utf8)
            #expect(doc.contains("```json\n" + text + "```"), "Docs/SpotWorkflow.md does not show \(file) as it is")
        }
    }
}
