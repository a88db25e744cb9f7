import Foundation

/// Removes secrets (AWS secret access keys and session tokens) from text before it is shown:
/// every occurrence of a secret, and every fragment of one at least
/// ``minimumFragmentLength`` characters long, becomes ``placeholder``.
///
/// Fragments matter because text from a server (an error `<Message>` that echoes the
/// request) may be cut anywhere, by the server or by a truncation: the end of a cut secret
/// is still a secret. Always redact first, then truncate; ``redact(_:)`` also catches a
/// fragment cut before it.
///
/// Access key ids are not secrets (they travel in clear in every `Authorization` header, and
/// AWS's own error messages quote them), so they are left as they are: they identify which
/// key was used, which an operator needs.
///
/// The matching runs in time linear in the text per secret (a suffix automaton of each
/// secret), so redacting a large error body is cheap.
public struct SecretRedactor: Sendable {
    /// What each redacted run becomes.
    public static let placeholder = "<redacted>"
    /// Fragments of a secret shorter than this are left alone (they are not distinguishable
    /// from ordinary text); a secret shorter than this is redacted only whole.
    public static let minimumFragmentLength = 8
    /// Secrets shorter than this are ignored: they cannot be told apart from ordinary text
    /// (real AWS secret keys have 40 characters, session tokens hundreds; shorter values are
    /// test placeholders), and redacting them would mangle every line.
    public static let minimumSecretLength = 4

    private let automata: [SuffixAutomaton]

    /// Creates a redactor for the given secrets (those shorter than
    /// ``minimumSecretLength`` bytes are ignored).
    /// - Parameter secrets: The secret values.
    public init(secrets: [String]) {
        automata = Set(secrets.filter { $0.utf8.count >= Self.minimumSecretLength }).sorted()
            .map { SuffixAutomaton(Array($0.utf8)) }
    }

    /// Creates a redactor for the secret access key and session token of `credentials`.
    /// - Parameter credentials: The credentials, or `nil` for a redactor that changes nothing.
    public init(credentials: AWSCredentials?) {
        self.init(secrets: [credentials?.secretAccessKey, credentials?.sessionToken].compactMap { $0 })
    }

    /// Whether this redactor knows no secret (and so returns text unchanged).
    public var isEmpty: Bool { automata.isEmpty }

    /// `text` with every secret and every fragment of one (of at least
    /// ``minimumFragmentLength`` bytes, or the whole secret when it is shorter) replaced by
    /// ``placeholder``.
    /// - Parameter text: The text to show.
    /// - Returns: The redacted text.
    public func redact(_ text: String) -> String {
        guard !automata.isEmpty, !text.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var covered = [Bool](repeating: false, count: bytes.count)
        var found = false
        for automaton in automata {
            let threshold = min(Self.minimumFragmentLength, automaton.length)
            var state = 0
            var length = 0
            var markedThrough = -1
            for (index, byte) in bytes.enumerated() {
                (state, length) = automaton.step(state: state, length: length, byte: byte)
                if length >= threshold {
                    found = true
                    // A match ending here with length L means one of at least L - 1 ended at
                    // index - 1, already marked; so only the unmarked tail needs marking.
                    for marked in max(index - length + 1, markedThrough + 1)...index { covered[marked] = true }
                    markedThrough = index
                }
            }
        }
        guard found else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if covered[index] {
                output.append(contentsOf: Self.placeholder.utf8)
                while index < bytes.count && covered[index] { index += 1 }
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `data` redacted as UTF-8 text (invalid sequences become U+FFFD).
    /// - Parameter data: A response body.
    /// - Returns: The redacted body.
    public func redact(_ data: Data) -> Data {
        guard !automata.isEmpty else { return data }
        return Data(redact(String(decoding: data, as: UTF8.self)).utf8)
    }
}

extension SecretRedactor {
    /// The redactor made of every secret registered so far in this process (see
    /// ``register(_:)``): the last line of defence of a program's output, applied to anything
    /// it prints.
    public static var processWide: SecretRedactor {
        registry.withLock { $0.redactor }
    }

    /// Adds the secret key and session token of `credentials` to ``processWide``. EC2Spot's
    /// clients register the credentials they sign with; a program may register others.
    /// - Parameter credentials: The credentials whose secrets must never be printed.
    public static func register(_ credentials: AWSCredentials) {
        let secrets = [credentials.secretAccessKey, credentials.sessionToken].compactMap { $0 }
        registry.withLock { registry in
            let fresh = secrets.filter { registry.secrets.insert($0).inserted }
            if !fresh.isEmpty { registry.redactor = SecretRedactor(secrets: Array(registry.secrets)) }
        }
    }

    private struct Registry: Sendable {
        var secrets: Set<String> = []
        var redactor = SecretRedactor(secrets: [])
    }

    private static let registry = LockedValue(Registry())
}

/// A value behind a lock (a tiny `Mutex` stand-in that works on every supported platform).
private final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// The suffix automaton of one secret: reading text byte by byte, it tracks the longest
/// suffix of the text read so far that is a substring of the secret.
private struct SuffixAutomaton: Sendable {
    private struct State: Sendable {
        var length = 0
        var link = -1
        var next: [UInt8: Int] = [:]
    }

    private var states = [State()]
    /// The secret's length in bytes.
    let length: Int

    init(_ secret: [UInt8]) {
        length = secret.count
        var last = 0
        for byte in secret {
            let current = states.count
            states.append(State(length: states[last].length + 1))
            var p = last
            while p != -1 && states[p].next[byte] == nil {
                states[p].next[byte] = current
                p = states[p].link
            }
            if p == -1 {
                states[current].link = 0
            } else if let q = states[p].next[byte] {
                if states[p].length + 1 == states[q].length {
                    states[current].link = q
                } else {
                    let clone = states.count
                    states.append(State(length: states[p].length + 1, link: states[q].link, next: states[q].next))
                    while p != -1 && states[p].next[byte] == q {
                        states[p].next[byte] = clone
                        p = states[p].link
                    }
                    states[q].link = clone
                    states[current].link = clone
                }
            }
            last = current
        }
    }

    /// Reads one more byte: the new state and the length of the longest matching suffix.
    func step(state: Int, length: Int, byte: UInt8) -> (Int, Int) {
        var state = state
        var length = length
        while state != 0 && states[state].next[byte] == nil {
            state = states[state].link
            length = states[state].length
        }
        if let next = states[state].next[byte] {
            return (next, length + 1)
        }
        return (0, 0)
    }
}
