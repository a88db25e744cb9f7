/// EC2Spot: a small EC2 Query-API client, EBS volume control and an IMDSv2
/// spot-interruption watcher, with no AWS SDK.
public enum EC2SpotLibrary {
    /// The library version, sent in the `User-Agent` header.
    public static let version = "0.1.0"
}
