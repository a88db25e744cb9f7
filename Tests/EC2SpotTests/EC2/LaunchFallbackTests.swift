import EC2Spot
import Foundation
import Testing

/// `runInstances(_:candidates:)`: several instance types and subnets, moving on at capacity
/// errors, and the spot, metadata and shutdown options it sends.
@Suite struct LaunchFallbackTests {
    static func capacityError(_ code: String) -> String {
        """
        <Response><Errors><Error><Code>\(code)</Code><Message>no room for \(code)</Message></Error></Errors>\
        <RequestID>req-\(code)</RequestID></Response>
        """
    }

    static let request = RunInstancesRequest(imageId: "ami-1", instanceType: "ignored", spot: .init(),
                                             clientToken: "tok")

    @Test func capacityErrorsMoveOnToTheNextSubnetThenTheNextTypeWithoutRetrying() async throws {
        let transport = ScriptedEC2Transport()
        // HTTP 500 like EC2's InsufficientInstanceCapacity: still not retried in place.
        transport.enqueue(status: 500, xml: Self.capacityError("InsufficientInstanceCapacity"))
        transport.enqueue(status: 400, xml: Self.capacityError("InsufficientCapacity"))
        transport.enqueue(status: 400, xml: Self.capacityError("SpotMaxPriceTooLow"))
        transport.enqueue(xml: EC2XMLBodies.runInstances([EC2XMLBodies.instanceItem(id: "i-4", state: "pending", code: 0)]))
        let clock = EC2TestClock()
        let client = EC2TestClient.make(transport, clock: clock)
        let candidates = LaunchCandidate.product(instanceTypes: ["c7i.large", "c6i.large"], subnetIds: ["subnet-a", "subnet-b"])
        let outcome = try await client.runInstances(Self.request, candidates: candidates)

        #expect(outcome.instances.map(\.instanceId) == ["i-4"])
        #expect(outcome.candidate == LaunchCandidate(instanceType: "c6i.large", subnetId: "subnet-b"))
        #expect(outcome.shortages.map(\.error.code) == ["InsufficientInstanceCapacity", "InsufficientCapacity", "SpotMaxPriceTooLow"])
        let sent = transport.requests.map(ScriptedEC2Transport.parameters)
        #expect(sent.map { $0["InstanceType"] } == ["c7i.large", "c7i.large", "c6i.large", "c6i.large"])
        #expect(sent.map { $0["SubnetId"] } == ["subnet-a", "subnet-b", "subnet-a", "subnet-b"])
        #expect(sent.map { $0["ClientToken"] } == ["tok-1", "tok-2", "tok-3", "tok-4"])
        #expect(clock.sleeps.isEmpty, "a capacity error is not retried in place: \(clock.sleeps)")
    }

    @Test func everyCandidateShortThrowsALaunchCapacityErrorNamingEach() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 500, xml: Self.capacityError("InsufficientInstanceCapacity"))
        transport.enqueue(status: 400, xml: Self.capacityError("UnfulfillableCapacity"))
        let client = EC2TestClient.make(transport)
        let error = await #expect(throws: LaunchCapacityError.self) {
            _ = try await client.runInstances(Self.request, candidates: LaunchCandidate.product(
                instanceTypes: ["c7i.large", "m7i.large"], subnetIds: []))
        }
        #expect(error?.shortages.map(\.candidate.instanceType) == ["c7i.large", "m7i.large"])
        #expect(error?.description.contains("m7i.large: UnfulfillableCapacity") == true)
        #expect(transport.requests.allSatisfy { ScriptedEC2Transport.parameters($0)["SubnetId"] == nil })
    }

    @Test func otherErrorsStopAtOnce() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: Self.capacityError("MaxSpotInstanceCountExceeded"))
        let client = EC2TestClient.make(transport)
        let error = await #expect(throws: EC2Error.self) {
            _ = try await client.runInstances(Self.request, candidates: LaunchCandidate.product(
                instanceTypes: ["c7i.large", "m7i.large"], subnetIds: []))
        }
        #expect(error?.code == "MaxSpotInstanceCountExceeded")
        #expect(transport.requests.count == 1)
    }

    @Test func persistentRequestsOnlyWithStopOrHibernateAndMetadataOptionsMatchBotocore() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: EC2XMLBodies.runInstances([EC2XMLBodies.instanceItem(id: "i-9", state: "pending", code: 0)]))
        let request = RunInstancesRequest(
            imageId: "ami-12c6146b", instanceType: "c7i.large", subnetId: "subnet-2",
            spot: .init(interruptionBehavior: .hibernate), clientToken: "run-2",
            metadataOptions: .init(httpTokens: .required, hopLimit: 2, ipv6Enabled: true),
            instanceInitiatedShutdownBehavior: .stop)
        _ = try await EC2TestClient.make(transport).runInstances(request)
        let sent = ScriptedEC2Transport.parameters(try #require(transport.requests.first))
        #expect(sent == (try EC2QueryEncodingTests.expected("RunInstances#persistent-metadata")))

        #expect(RunInstancesRequest.SpotOptions(interruptionBehavior: .terminate).requestType == "one-time")
        #expect(RunInstancesRequest.SpotOptions(interruptionBehavior: .stop).requestType == "persistent")
        #expect(RunInstancesRequest.SpotOptions(interruptionBehavior: .hibernate).requestType == "persistent")
    }

    @Test func capacityShortageCodesAreNotAccountLimits() {
        for code in ["InsufficientInstanceCapacity", "InsufficientCapacity", "UnfulfillableCapacity", "SpotMaxPriceTooLow"] {
            #expect(EC2Error(status: 500, code: code, message: "").isCapacityShortage, "\(code)")
            #expect(!RetryPolicy(maxAttempts: 5).isRetryable(EC2Error(status: 500, code: code, message: "")), "\(code)")
        }
        for code in ["MaxSpotInstanceCountExceeded", "VcpuLimitExceeded", "RequestLimitExceeded"] {
            #expect(!EC2Error(status: 400, code: code, message: "").isCapacityShortage, "\(code)")
        }
    }
}
