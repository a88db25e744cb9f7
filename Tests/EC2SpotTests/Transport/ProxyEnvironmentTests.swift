@testable import EC2Spot
import Foundation
import Testing

/// The standard proxy variables, parsed and applied per URL (pure functions, no network).
@Suite struct ProxyEnvironmentTests {
    private func proxy(_ environment: [String: String], _ url: String) throws -> HTTPProxyServer? {
        try ProxyEnvironment(environment: environment).proxy(for: URL(string: url)!)
    }

    @Test func httpsURLsUseHTTPSProxyAndHTTPURLsUseHTTPProxy() throws {
        let environment = ["HTTPS_PROXY": "http://secure.proxy:3128", "HTTP_PROXY": "plain.proxy:8080"]
        #expect(try proxy(environment, "https://ec2.us-east-1.amazonaws.com/")
                == HTTPProxyServer(host: "secure.proxy", port: 3128))
        #expect(try proxy(environment, "http://127.0.0.1:4566/") == HTTPProxyServer(host: "plain.proxy", port: 8080))
        #expect(try proxy(["HTTP_PROXY": "http://p:1"], "https://s3.amazonaws.com/") == nil)
        #expect(try proxy(["HTTPS_PROXY": "http://p:1"], "http://s3.amazonaws.com/") == nil)
        #expect(try proxy([:], "https://ec2.us-east-1.amazonaws.com/") == nil)
    }

    @Test func lowercaseSpellingWinsAndEmptyValuesCountAsUnset() throws {
        #expect(try proxy(["https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"], "https://a.example/")?.host
                == "lower")
        #expect(try proxy(["https_proxy": "", "HTTPS_PROXY": "http://upper:2"], "https://a.example/")?.host == "upper")
        #expect(try proxy(["http_proxy": "  "], "http://a.example/") == nil)
    }

    @Test func proxyURLDefaultsPortAndKeepsDecodedCredentials() throws {
        let parsed = try ProxyEnvironment.parseProxy("http://us%40er:p%3Ass@[::1]", variable: "HTTP_PROXY")
        #expect(parsed == HTTPProxyServer(host: "::1", port: 80, username: "us@er", password: "p:ss"))
        #expect(parsed.description == "***@[::1]:80")
        #expect(!parsed.description.contains("p:ss"))
    }

    @Test(arguments: ["https://proxy:443", "socks5://proxy:1080", "http://", "http://proxy:0",
                      "http://proxy:99999", "http://proxy:3128/path"])
    func unusableProxyValuesAreRejectedNamingTheVariable(value: String) {
        let error = #expect(throws: TransportError.self) {
            try ProxyEnvironment(environment: ["HTTPS_PROXY": value])
        }
        #expect(error?.kind == .unsupportedRequest)
        #expect(error?.message.contains("HTTPS_PROXY") == true, "\(String(describing: error))")
    }

    @Test func rejectionNeverRepeatsProxyCredentials() {
        let error = #expect(throws: TransportError.self) {
            try ProxyEnvironment(environment: ["https_proxy": "https://admin:s3cret@proxy:3128"])
        }
        #expect(error.map { !"\($0)".contains("s3cret") } == true)
    }

    @Test func noProxyMatchesHostsTheirSubdomainsAndPorts() throws {
        let base = ["HTTPS_PROXY": "http://p:3128", "HTTP_PROXY": "http://p:3128"]
        func bypassed(_ noProxy: String, _ url: String) throws -> Bool {
            var environment = base
            environment["NO_PROXY"] = noProxy
            return try proxy(environment, url) == nil
        }
        #expect(try bypassed("amazonaws.com", "https://ec2.us-east-1.amazonaws.com/"))
        #expect(try bypassed(".amazonaws.com", "https://ec2.us-east-1.amazonaws.com/"))
        #expect(try bypassed("*.amazonaws.com", "https://ec2.us-east-1.amazonaws.com/"))
        #expect(try bypassed("amazonaws.com", "https://amazonaws.com/"))
        #expect(try !bypassed("amazonaws.com", "https://notamazonaws.com/"))
        #expect(try bypassed("*", "https://anything.example/"))
        #expect(try bypassed("example.org, 127.0.0.1", "http://127.0.0.1:4566/"))
        #expect(try !bypassed("127.0.0.1", "http://127.0.0.10/"))
        #expect(try bypassed("EXAMPLE.org", "https://api.example.ORG/"))
        #expect(try bypassed("localhost:4566", "http://localhost:4566/"))
        #expect(try !bypassed("localhost:4566", "http://localhost:4567/"))
        #expect(try bypassed("example.org:443", "https://example.org/"))
        #expect(try bypassed("[::1]:8080", "http://[::1]:8080/"))
        #expect(try bypassed("::1", "http://[::1]:8080/"))
        #expect(try !bypassed("", "https://example.org/"))
        #expect(try bypassed("a.example b.example", "https://b.example/"))
    }

    @Test func lowercaseNoProxyWins() throws {
        let environment = ["HTTPS_PROXY": "http://p:3128", "no_proxy": "a.example", "NO_PROXY": "b.example"]
        #expect(try proxy(environment, "https://a.example/") == nil)
        #expect(try proxy(environment, "https://b.example/") != nil)
    }

    @Test func metadataHostsMustBeAddressLiterals() {
        for host in ["127.0.0.1", "169.254.169.254", "[fd00:ec2::254]", "::1", "localhost", "LOCALHOST"] {
            #expect(AsyncHTTPClientTransport.isAddressLiteralOrLocalhost(host), "\(host)")
        }
        for host in ["metadata.invalid", "169.254.169", "1.2.3.4.5", "256.1.1.1", "example.com", ""] {
            #expect(!AsyncHTTPClientTransport.isAddressLiteralOrLocalhost(host), "\(host)")
        }
    }
}
