import EC2Spot
import Foundation

/// Warns on standard error that AWS showed the local clock to be off and that requests are
/// now signed with a corrected time (``ClockSkewCorrection``).
/// - Parameter offset: Server time minus local time, in seconds.
@Sendable func warnClockSkewCorrected(_ offset: TimeInterval) {
    printNotice("warning: " + ClockSkewCorrection.hint(skew: offset, retried: false)
                + "; signing requests with the corrected time")
}
