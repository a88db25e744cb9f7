import EC2Spot
import Foundation
import Testing

@Suite struct RetryTests {
    let ok = EC2XMLBodies.returnTrue("DeleteVolume")

    @Test func throttlingIsRetriedWithExponentialJitteredBackoff() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 503, xml: EC2XMLBodies.ec2Error(code: "RequestLimitExceeded", message: "Request limit exceeded."))
        transport.enqueue(status: 400, xml: EC2XMLBodies.errorResponse(code: "Throttling", message: "Rate exceeded"))
        transport.enqueue(status: 400, xml: EC2XMLBodies.ec2Error(code: "ThrottlingException", message: "slow down"))
        transport.enqueue(xml: ok)
        let clock = EC2TestClock()
        try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        #expect(transport.requests.count == 4)
        // base 1 s doubling, jitter fixed at 0.5.
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1), .seconds(2)])
    }

    @Test func serverErrorsAndTransportErrorsAreRetried() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 500, xml: EC2XMLBodies.ec2Error(code: "InternalError", message: "An internal error has occurred"))
        transport.enqueue(.failure(TransportError(.timedOut, "timed out")))
        transport.enqueue(.failure(TransportError(.connectionFailed, "refused")))
        transport.enqueue(xml: ok)
        try await EC2TestClient.make(transport).deleteVolume(volumeId: "vol-1")
        #expect(transport.requests.count == 4)
    }

    @Test func clientErrorsAreNotRetried() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 400, xml: EC2XMLBodies.ec2Error(code: "InvalidParameterValue", message: "bad"))
        transport.enqueue(xml: ok)
        let clock = EC2TestClock()
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        }
        #expect(error?.code == "InvalidParameterValue")
        #expect(transport.requests.count == 1)
        #expect(clock.sleeps.isEmpty)
    }

    @Test func requestsTheTransportRefusedAreNotRetried() async {
        let transport = ScriptedEC2Transport()
        transport.enqueue(.failure(TransportError(.unsupportedRequest, "plain HTTP only")))
        transport.enqueue(xml: ok)
        let clock = EC2TestClock()
        let error = await #expect(throws: TransportError.self) {
            try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        }
        #expect(error?.kind == .unsupportedRequest)
        #expect(transport.requests.count == 1)
        #expect(clock.sleeps.isEmpty)
        #expect(!RetryPolicy.standard.isRetryable(TransportError(.unsupportedRequest, "x")))
        #expect(RetryPolicy.standard.isRetryable(TransportError(.connectionFailed, "x")))
    }

    @Test func givesUpAfterMaxAttempts() async {
        let transport = ScriptedEC2Transport()
        for _ in 0..<5 { transport.enqueue(.failure(TransportError(.connectionFailed, "refused"))) }
        let error = await #expect(throws: TransportError.self) {
            try await EC2TestClient.make(transport).deleteVolume(volumeId: "vol-1")
        }
        #expect(error?.kind == .connectionFailed)
        #expect(transport.requests.count == 4)
        #expect(transport.pending == 1)
    }

    @Test func eachAttemptIsSignedAtItsOwnTime() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 503, xml: EC2XMLBodies.ec2Error(code: "Unavailable", message: "try later"))
        transport.enqueue(xml: ok)
        let clock = EC2TestClock(start: Date(timeIntervalSince1970: 1_704_164_645))
        let retry = RetryPolicy(maxAttempts: 2, baseDelay: .seconds(10), maxDelay: .seconds(10), random: { 0.999 })
        try await EC2TestClient.make(transport, clock: clock, retry: retry).deleteVolume(volumeId: "vol-1")
        #expect(transport.requests.map { $0.headers["x-amz-date"] } == ["20240102T030405Z", "20240102T030414Z"])
    }

    @Test func delayIsCappedAndJittered() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2), random: { 0.75 })
        #expect(policy.delay(beforeRetry: 1) == .milliseconds(75))
        #expect(policy.delay(beforeRetry: 3) == .milliseconds(300))
        #expect(policy.delay(beforeRetry: 9) == .milliseconds(1500))
        #expect(policy.delay(beforeRetry: 60) == .milliseconds(1500))
        let zero = RetryPolicy(random: { 0 })
        #expect(zero.delay(beforeRetry: 4) == .zero)
    }

    @Test func classifiesErrors() {
        let policy = RetryPolicy.standard
        #expect(policy.isRetryable(EC2Error(status: 400, code: "RequestLimitExceeded", message: "")))
        #expect(policy.isRetryable(EC2Error(status: 503, code: "HTTP503", message: "")))
        #expect(!policy.isRetryable(EC2Error(status: 403, code: "UnauthorizedOperation", message: "")))
        #expect(!policy.isRetryable(EC2Error(status: 401, code: "AuthFailure", message: "")))
        #expect(!policy.isRetryable(EC2Error(status: 200, code: EC2Error.malformedResponseCode, message: "")))
        #expect(policy.isRetryable(TransportError(.invalidResponse, "")))
        #expect(!policy.isRetryable(CancellationError()))
    }
}
