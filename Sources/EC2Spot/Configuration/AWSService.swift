/// An AWS service EC2Spot talks to, named the way the AWS CLI names its endpoint settings.
public enum AWSService: String, Sendable, CaseIterable {
    /// Amazon EC2.
    case ec2
    /// Amazon S3.
    case s3
    /// AWS Security Token Service (AssumeRole, AssumeRoleWithWebIdentity).
    case sts
    /// Amazon EC2 Auto Scaling.
    case autoScaling

    /// The suffix of its endpoint variable: `AWS_ENDPOINT_URL_<suffix>` (`EC2`, `S3`, `STS`,
    /// `AUTO_SCALING`: the service id, spaces turned into underscores, uppercased).
    public var environmentSuffix: String {
        switch self {
        case .ec2: return "EC2"
        case .s3: return "S3"
        case .sts: return "STS"
        case .autoScaling: return "AUTO_SCALING"
        }
    }

    /// The key of its sub-section in a `[services NAME]` section of the config file
    /// (`ec2`, `s3`, `sts`, `auto_scaling`).
    public var configKey: String { environmentSuffix.lowercased() }

    /// The variable naming its endpoint, for example `AWS_ENDPOINT_URL_EC2`.
    public var endpointVariable: String { "AWS_ENDPOINT_URL_" + environmentSuffix }

    /// The public endpoint of the service in `region` (`.amazonaws.com.cn` in China).
    /// - Parameter region: The region, for example `us-east-1`.
    /// - Returns: `https://<prefix>.<region>.amazonaws.com`.
    public func defaultEndpoint(region: String) -> String {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        let prefix: String
        switch self {
        case .ec2: prefix = "ec2"
        case .s3: prefix = "s3"
        case .sts: prefix = "sts"
        case .autoScaling: prefix = "autoscaling"
        }
        return "https://\(prefix).\(region).\(suffix)"
    }
}
