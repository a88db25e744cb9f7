import EC2Spot

/// The job's group control over EC2 Auto Scaling: `UpdateAutoScalingGroup` with the minimum
/// and the desired capacity (so that a minimum above 0 cannot keep an instance running).
struct AutoScalingGroupControl: JobGroupControl {
    /// The Auto Scaling client.
    let client: AutoScalingClient

    /// The control for the resolved AWS settings (credentials, endpoints: `AWS_ENDPOINT_URL_AUTO_SCALING`,
    /// `AWS_ENDPOINT_URL`, the profile's) in the job's region.
    /// - Parameters:
    ///   - settings: The resolved settings.
    ///   - region: The job's region (its spec's).
    /// - Returns: The control.
    /// - Throws: ``EC2ConfigurationError`` for an endpoint that is not an http(s) URL.
    static func make(settings: AWSClientSettings, region: String) throws -> any JobGroupControl {
        AutoScalingGroupControl(client: try AutoScalingClient(environment: settings.environment, region: region,
                                                              credentialsProvider: settings.credentials,
                                                              transport: settings.transport))
    }

    func setDesiredCapacity(_ capacity: Int, group: String) async throws {
        try await client.updateAutoScalingGroup(name: group, minSize: capacity, desiredCapacity: capacity)
    }
}
