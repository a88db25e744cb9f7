/// What `job run` needs of the job's Auto Scaling group: to stop it, so that no replacement
/// is launched and billing ends. A protocol, so that the job's rules are tested without AWS.
protocol JobGroupControl: Sendable {
    /// Sets the group's desired capacity and minimum to `capacity` (0 terminates its
    /// instances, this one included).
    /// - Parameters:
    ///   - capacity: The new desired capacity and minimum.
    ///   - group: The group's name.
    /// - Throws: What the service throws; the caller exits 1 so that the next instance tries
    ///   again.
    func setDesiredCapacity(_ capacity: Int, group: String) async throws
}
