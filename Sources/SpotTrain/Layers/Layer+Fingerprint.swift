import Crypto

extension Layer {
    /// The `weights_sha256` fingerprint of the model, as `spottrain train --summary` reports
    /// it: the SHA-256 (swift-crypto), in lower-case hex, of ``parameterFingerprintBytes()``
    /// (every parameter as little-endian Float32, in canonical order). Two runs that end with
    /// the same weights, bit for bit, print the same fingerprint.
    /// - Returns: 64 hexadecimal digits.
    public func weightsSHA256() -> String {
        SHA256.hash(data: parameterFingerprintBytes()).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
