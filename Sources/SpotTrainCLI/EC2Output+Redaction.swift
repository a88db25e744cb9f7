import EC2Spot
import Foundation

/// `text` with every AWS secret this process has used (secret access keys and session
/// tokens, and any fragment of eight characters or more of one) replaced by `<redacted>`.
///
/// Every line `spottrain` prints on standard error (``printError(_:)``, ``printNotice(_:)``)
/// and every JSON result of `spottrain ec2 …` goes through it, as the last line of defence:
/// EC2Spot already redacts the errors it builds, but text from a server can also arrive in
/// a successful response (a tag value, for example). Access key ids are not secrets and are
/// printed as they are (they identify the key; AWS's own messages quote them).
/// - Parameter text: A line about to be printed.
/// - Returns: The line without secrets.
func redactedForOutput(_ text: String) -> String {
    SecretRedactor.processWide.redact(text)
}
