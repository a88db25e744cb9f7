import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths, data and files the `spottrain` tests share.
enum Fixtures {
    /// The package root (this file is `Tests/spottrainTests/Support/Fixtures.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The real MNIST, first found of: `SPOTTRAIN_MNIST_DIR`, the package's own `Data/mnist`
    /// (shipped with the repository), `../shared/data/mnist` beside the package.
    static var mnistDirectory: String? {
        if let dir = ProcessInfo.processInfo.environment["SPOTTRAIN_MNIST_DIR"] { return dir }
        for relative in ["Data/mnist", "../shared/data/mnist"] {
            let dir = packageRoot.appendingPathComponent(relative).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte.gz") { return dir }
        }
        return nil
    }

    /// A new empty temporary directory.
    ///
    /// - Returns: Its path.
    /// - Throws: When it cannot be created.
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    /// Reads a `--summary` JSON file.
    ///
    /// - Parameter path: The file.
    /// - Returns: Its top-level object.
    /// - Throws: When the file cannot be read or is not a JSON object.
    static func summary(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The global steps of the checkpoint files (`ckpt-<step>.spt`) in `dir`, ascending; empty
    /// when `dir` cannot be listed.
    static func checkpointSteps(in dir: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("ckpt-"), name.hasSuffix(".spt") else { return nil }
            return Int(name.dropFirst(5).dropLast(4))
        }.sorted()
    }
}

extension Fixtures {
    /// A loopback TCP port nothing listens on (bound, then closed).
    static func closedLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 ? getsockname(fd, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
