import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension AsyncHTTPClientTransport {
    /// Maps what AHC and NIO throw to ``TransportError`` (a ``TransportError`` passes through).
    /// - Parameters:
    ///   - error: The error of the exchange.
    ///   - host: The request's host, for the message.
    ///   - timeout: The request's deadline, for the message.
    /// - Returns: The ``TransportError`` to throw.
    static func transportError(_ error: any Error, host: String, timeout: Duration) -> TransportError {
        if let error = error as? TransportError { return error }
        if let error = error as? HTTPClientError {
            return mapClientError(error, host: host, timeout: timeout)
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout:
                return TransportError(.timedOut, "request to \(host) timed out while connecting (\(error))")
            default:
                return TransportError(.connectionFailed, "request to \(host) failed: \(error)")
            }
        }
        if error is HTTPParserError {
            return TransportError(.invalidResponse, "invalid HTTP response from \(host): \(error)")
        }
        if error is CancellationError {
            return TransportError(.connectionFailed, "request to \(host) was cancelled by the HTTP client")
        }
        return TransportError(.connectionFailed, "request to \(host) failed: \(error)")
    }

    private static func mapClientError(_ error: HTTPClientError, host: String, timeout: Duration) -> TransportError {
        switch error {
        case .deadlineExceeded:
            return TransportError(.timedOut, "request to \(host) did not complete within \(describe(timeout))")
        case .connectTimeout, .tlsHandshakeTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout,
             .getConnectionFromPoolTimeout:
            return TransportError(.timedOut, "request to \(host) timed out while connecting (\(error.shortDescription))")
        case .readTimeout, .writeTimeout:
            return TransportError(.timedOut, "request to \(host) timed out (\(error.shortDescription))")
        case .invalidURL, .emptyHost, .emptyScheme, .traceRequestWithBody:
            return TransportError(.unsupportedRequest, "cannot send to \(host): \(error.shortDescription)")
        case .bodyLengthMismatch:
            return TransportError(.invalidResponse, "invalid HTTP response from \(host): \(error.shortDescription)")
        case .remoteConnectionClosed:
            return TransportError(.connectionFailed, "\(host) closed the connection without a complete response")
        case .invalidProxyResponse, .proxyAuthenticationRequired:
            return TransportError(.connectionFailed, "the proxy refused the request to \(host): \(error.shortDescription)")
        default:
            let text = error.description
            if text.contains("unsupportedScheme") || text.contains("invalidHeaderField") {
                return TransportError(.unsupportedRequest, "cannot send to \(host): \(error.shortDescription)")
            }
            return TransportError(.connectionFailed, "request to \(host) failed: \(error.shortDescription)")
        }
    }
}
