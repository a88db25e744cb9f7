import Foundation

/// An HTTP proxy taken from the environment: where to connect, and the optional basic
/// credentials from the proxy URL's user-info part.
public struct HTTPProxyServer: Sendable, Hashable, CustomStringConvertible {
    /// The proxy's host name or address literal (IPv6 without brackets).
    public var host: String
    /// The proxy's TCP port.
    public var port: Int
    /// The user name for `Proxy-Authorization: Basic`, if the URL had one.
    public var username: String?
    /// The password for `Proxy-Authorization: Basic`, if the URL had one.
    public var password: String?

    /// Creates a proxy description.
    /// - Parameters:
    ///   - host: The host name or address literal.
    ///   - port: The TCP port, 1…65535.
    ///   - username: The optional basic-auth user name.
    ///   - password: The optional basic-auth password.
    public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// `host:port`, with credentials shown only as `***@` (never the password itself).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return (username == nil ? "" : "***@") + "\(shownHost):\(port)"
    }
}

/// The standard proxy variables of the process environment, read once and applied per URL.
///
/// - `https_proxy` / `HTTPS_PROXY` for `https://` URLs, `http_proxy` / `HTTP_PROXY` for
///   `http://` URLs; the lowercase spelling wins when both are set (as in curl and Python),
///   and an empty value counts as unset. The value is `http://[user:password@]host[:port]`
///   (a value without a scheme is taken as `http://`; the port defaults to 80). A proxy
///   reached over TLS (`https://` proxy URL) or SOCKS is not supported and is rejected.
/// - `no_proxy` / `NO_PROXY`: comma- or space-separated entries; `*` bypasses the proxy for
///   every host; `example.com` or `.example.com` bypasses it for that host and all its
///   subdomains; an IP literal matches exactly; an entry may end in `:port` to apply to that
///   port only.
///
/// Instance metadata never consults this: ``AsyncHTTPClientTransport/instanceMetadata(maximumResponseBytes:connectTimeout:)``
/// always connects directly.
public struct ProxyEnvironment: Sendable, Equatable {
    /// The proxy for `http://` URLs, if any.
    public var httpProxy: HTTPProxyServer?
    /// The proxy for `https://` URLs, if any.
    public var httpsProxy: HTTPProxyServer?
    /// The parsed `NO_PROXY` entries.
    public var noProxy: [NoProxyEntry]

    /// One `NO_PROXY` entry.
    public enum NoProxyEntry: Sendable, Equatable {
        /// `*`: every host goes direct.
        case everything
        /// A host (lowercase, without a leading dot or IPv6 brackets) that matches itself and,
        /// for names, every subdomain; `port` limits the entry to one port.
        case host(String, port: Int?)
    }

    /// No proxy for anything.
    public static let direct = ProxyEnvironment(httpProxy: nil, httpsProxy: nil, noProxy: [])

    /// Creates a proxy environment from parsed parts.
    /// - Parameters:
    ///   - httpProxy: The proxy for `http://` URLs.
    ///   - httpsProxy: The proxy for `https://` URLs.
    ///   - noProxy: The hosts that bypass both proxies.
    public init(httpProxy: HTTPProxyServer?, httpsProxy: HTTPProxyServer?, noProxy: [NoProxyEntry]) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.noProxy = noProxy
    }

    /// Reads the standard variables from `environment`.
    /// - Parameter environment: The variables (for example `ProcessInfo.processInfo.environment`).
    /// - Throws: ``TransportError`` with kind ``TransportError/Kind/unsupportedRequest`` naming
    ///   the variable when a proxy value is not an `http://host[:port]` URL (the message never
    ///   repeats credentials from the value).
    public init(environment: [String: String]) throws {
        httpProxy = try Self.proxy(named: ["http_proxy", "HTTP_PROXY"], in: environment)
        httpsProxy = try Self.proxy(named: ["https_proxy", "HTTPS_PROXY"], in: environment)
        noProxy = Self.parseNoProxy(Self.value(named: ["no_proxy", "NO_PROXY"], in: environment) ?? "")
    }

    /// The proxy a request to `url` must go through, or `nil` to connect directly.
    /// - Parameter url: The request URL.
    /// - Returns: The `https` proxy for `https://` URLs, the `http` proxy for `http://` URLs,
    ///   `nil` for other schemes and for hosts that `NO_PROXY` matches.
    public func proxy(for url: URL) -> HTTPProxyServer? {
        let chosen: HTTPProxyServer?
        switch url.scheme?.lowercased() {
        case "https": chosen = httpsProxy
        case "http": chosen = httpProxy
        default: chosen = nil
        }
        guard let chosen, let rawHost = url.host, !rawHost.isEmpty else { return nil }
        let host = Self.normalizedHost(rawHost)
        let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
        return bypasses(host: host, port: port) ? nil : chosen
    }

    /// Whether `NO_PROXY` sends `host:port` direct.
    func bypasses(host: String, port: Int) -> Bool {
        for entry in noProxy {
            switch entry {
            case .everything:
                return true
            case .host(let pattern, let entryPort):
                if let entryPort, entryPort != port { continue }
                if host == pattern || host.hasSuffix("." + pattern) { return true }
            }
        }
        return false
    }

    /// Parses a `NO_PROXY` value; entries that cannot match anything are dropped.
    /// - Parameter text: The variable's value.
    /// - Returns: The entries in order.
    static func parseNoProxy(_ text: String) -> [NoProxyEntry] {
        var entries: [NoProxyEntry] = []
        for rawEntry in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            var entry = String(rawEntry).trimmingCharacters(in: .whitespaces).lowercased()
            if entry == "*" {
                entries.append(.everything)
                continue
            }
            var port: Int?
            if entry.hasPrefix("[") {
                // [v6]:port or [v6]
                guard let close = entry.firstIndex(of: "]") else { continue }
                let rest = entry[entry.index(after: close)...]
                if rest.hasPrefix(":") {
                    guard let value = Int(rest.dropFirst()), (1...65535).contains(value) else { continue }
                    port = value
                } else if !rest.isEmpty {
                    continue
                }
                entry = String(entry[entry.index(after: entry.startIndex)..<close])
            } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.lastIndex(of: ":") {
                guard let value = Int(entry[entry.index(after: colon)...]), (1...65535).contains(value) else { continue }
                port = value
                entry = String(entry[..<colon])
            }
            while entry.hasPrefix("*.") { entry.removeFirst(2) }
            while entry.hasPrefix(".") { entry.removeFirst() }
            guard !entry.isEmpty else { continue }
            entries.append(.host(entry, port: port))
        }
        return entries
    }

    /// Parses one proxy variable's value.
    /// - Parameters:
    ///   - text: The value, for example `http://user:pw@proxy.internal:3128`.
    ///   - variable: The variable's name, for messages.
    /// - Returns: The proxy.
    /// - Throws: ``TransportError`` (``TransportError/Kind/unsupportedRequest``).
    static func parseProxy(_ text: String, variable: String) throws -> HTTPProxyServer {
        let withScheme = text.contains("://") ? text : "http://" + text
        func invalid(_ reason: String) -> TransportError {
            TransportError(.unsupportedRequest, "\(variable) \(reason); expected http://[user:password@]host[:port]")
        }
        guard let components = URLComponents(string: withScheme) else { throw invalid("is not a URL") }
        guard components.scheme?.lowercased() == "http" else {
            throw invalid("uses the unsupported scheme '\(components.scheme ?? "")://'")
        }
        guard let rawHost = components.host, !rawHost.isEmpty else { throw invalid("has no host") }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else { throw invalid("has an invalid port") }
        let path = components.path
        guard path.isEmpty || path == "/" else { throw invalid("has a path") }
        return HTTPProxyServer(host: normalizedHost(rawHost), port: port,
                               username: components.user.map { $0.removingPercentEncoding ?? $0 },
                               password: components.password.map { $0.removingPercentEncoding ?? $0 })
    }

    private static func proxy(named names: [String], in environment: [String: String]) throws -> HTTPProxyServer? {
        for name in names {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { continue }
            return try parseProxy(text, variable: name)
        }
        return nil
    }

    private static func value(named names: [String], in environment: [String: String]) -> String? {
        for name in names {
            if let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty { return text }
        }
        return nil
    }

    /// Lowercase, without IPv6 brackets or a trailing dot.
    static func normalizedHost(_ host: String) -> String {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") { host.removeLast() }
        return host
    }
}
