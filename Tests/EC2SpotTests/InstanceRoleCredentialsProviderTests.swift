import EC2Spot
import Foundation
import Testing

/// ``InstanceRoleCredentialsProvider`` against `Scripts/fake_imds.py` on loopback.
@Suite struct InstanceRoleCredentialsProviderTests {
    /// A settable clock that starts at the real time (the fake IMDS stamps real expirations).
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var current = Date()
        var now: Date { lock.withLock { current } }
        func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }
    }

    /// How many times the fake served the role's credentials document.
    static func credentialReads(_ imds: FakeIMDS) async throws -> Int {
        let response = try await imds.raw("GET", "/_control/log")
        let log = try #require(try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]])
        return log.filter { ($0["path"] as? String) == "/latest/meta-data/iam/security-credentials/spottrain-test-role" }
            .count
    }

    @Test func readsRoleCredentialsAndCachesThemUntilShortlyBeforeExpiry() async throws {
        try await withFakeIMDS { imds in
            let clock = Clock()
            let provider = InstanceRoleCredentialsProvider(
                client: try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:]),
                refreshMargin: .seconds(300), now: { clock.now })
            let first = try #require(try await provider.credentials())
            #expect(first.accessKeyId == "ASIAFAKEIMDSEXAMPLE")
            #expect(first.sessionToken == "fake-imds-session-token")
            let expiration = try #require(first.expiration)
            #expect(abs(expiration.timeIntervalSinceNow - 6 * 3600) < 600)
            #expect(!first.description.contains("fakeImdsSecretKey"))

            // Cached: no second read while the credentials are fresh.
            clock.advance(by: 3600)
            #expect(try await provider.credentials() == first)
            #expect(try await Self.credentialReads(imds) == 1)
            #expect(await provider.fetchCount == 1)

            // Within the refresh margin of the expiration: read again.
            clock.advance(by: expiration.timeIntervalSince(clock.now) - 200)
            #expect(try await provider.credentials() != nil)
            #expect(try await Self.credentialReads(imds) == 2)
            #expect(await provider.fetchCount == 2)
        }
    }

    @Test func unreachableIMDSEndsTheChainWithNoCredentials() async throws {
        let port = unusedLoopbackPort()
        let client = try InstanceMetadataClient(endpoint: URL(string: "http://127.0.0.1:\(port)")!, environment: [:])
        let provider = InstanceRoleCredentialsProvider(client: client)
        #expect(try await provider.credentials() == nil)

        let chain = CredentialsProviderChain.standard(
            environment: ["AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
                          "AWS_CONFIG_FILE": "/nonexistent/config"],
            additional: [provider])
        let error = await #expect(throws: CredentialsError.self) { try await chain.requireCredentials() }
        #expect(error?.message.contains("instance-role") == true)
    }

    @Test func disabledIMDSIsNotContacted() async throws {
        let client = try InstanceMetadataClient(environment: ["AWS_EC2_METADATA_DISABLED": "true"])
        let provider = InstanceRoleCredentialsProvider(client: client)
        #expect(try await provider.credentials() == nil)
        #expect(await client.tokenFetchCount == 0)
    }

    @Test func brokenIMDSThrowsButUnexpiredCachedCredentialsSurviveIt() async throws {
        try await withFakeIMDS { imds in
            let clock = Clock()
            let provider = InstanceRoleCredentialsProvider(
                client: try InstanceMetadataClient(endpoint: imds.endpoint, environment: [:]),
                refreshMargin: .seconds(300), now: { clock.now })

            // Nothing cached yet: a 500 from IMDS is an error, not "no credentials".
            try await imds.control("fail", ["count": 1, "status": 500,
                                            "path_prefix": "/latest/meta-data/iam/security-credentials/"])
            let error = await #expect(throws: CredentialsError.self) { try await provider.credentials() }
            #expect(error?.provider == "instance-role")
            #expect(error?.message.contains("500") == true)

            let fresh = try #require(try await provider.credentials())
            let expiration = try #require(fresh.expiration)
            // Due for refresh, but IMDS fails: the unexpired credentials are still returned.
            clock.advance(by: expiration.timeIntervalSince(clock.now) - 60)
            try await imds.control("fail", ["count": 5, "status": 500,
                                            "path_prefix": "/latest/meta-data/iam/security-credentials/"])
            #expect(try await provider.credentials() == fresh)
            // Past the expiration they are not.
            clock.advance(by: 120)
            await #expect(throws: CredentialsError.self) { try await provider.credentials() }
        }
    }
}
