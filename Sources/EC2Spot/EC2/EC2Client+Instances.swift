import Foundation

extension EC2Client {
    /// Describes instances (`DescribeInstances`), following `NextToken` through every page.
    /// - Parameters:
    ///   - instanceIds: Only these instances.
    ///   - filters: Only instances matching all filters, for example `instance-state-name`.
    /// - Returns: The instances of all reservations.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeInstances(instanceIds: [String] = [], filters: [Filter] = []) async throws -> [Instance] {
        var query = EC2Query(action: "DescribeInstances")
        query.list("InstanceId", instanceIds)
        query.filters(filters)
        return try await paginate(query) { root in
            try root.items("reservationSet").flatMap { try $0.items("instancesSet").map(EC2Decoding.instance) }
        }
    }

    /// Launches instances (`RunInstances`), spot ones through `InstanceMarketOptions` when
    /// ``RunInstancesRequest/spot`` is set.
    /// - Parameter request: What to launch.
    /// - Returns: The launched instances (usually `pending`).
    /// - Throws: ``EC2Error`` (for example `InsufficientInstanceCapacity`,
    ///   `SpotMaxPriceTooLow`: see ``EC2Error/isCapacityShortage``), ``TransportError``.
    public func runInstances(_ request: RunInstancesRequest) async throws -> [Instance] {
        var query = EC2Query(action: "RunInstances")
        query.set("ImageId", request.imageId)
        query.set("InstanceType", request.instanceType)
        query.set("MinCount", request.minCount)
        query.set("MaxCount", request.maxCount)
        query.set("KeyName", request.keyName)
        query.list("SecurityGroupId", request.securityGroupIds)
        query.set("SubnetId", request.subnetId)
        switch request.iamInstanceProfile {
        case .name(let name): query.set("IamInstanceProfile.Name", name)
        case .arn(let arn): query.set("IamInstanceProfile.Arn", arn)
        case nil: break
        }
        query.set("UserData", request.userData.map { Data($0.utf8).base64EncodedString() })
        query.set("Placement.AvailabilityZone", request.availabilityZone)
        query.set("ClientToken", request.clientToken)
        query.set("InstanceInitiatedShutdownBehavior", request.instanceInitiatedShutdownBehavior?.rawValue)
        query.tagSpecifications(request.tagSpecifications)
        if let spot = request.spot {
            query.set("InstanceMarketOptions.MarketType", "spot")
            query.set("InstanceMarketOptions.SpotOptions.SpotInstanceType", spot.requestType)
            query.set("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", spot.interruptionBehavior.rawValue)
            query.set("InstanceMarketOptions.SpotOptions.MaxPrice", spot.maxPrice)
        }
        if let metadata = request.metadataOptions {
            query.set("MetadataOptions.HttpTokens", metadata.httpTokens.rawValue)
            query.set("MetadataOptions.HttpPutResponseHopLimit", metadata.hopLimit)
            query.set("MetadataOptions.HttpEndpoint", metadata.endpointEnabled ? "enabled" : "disabled")
            query.set("MetadataOptions.HttpProtocolIpv6", metadata.ipv6Enabled.map { $0 ? "enabled" : "disabled" })
        }
        return try await send(query).items("instancesSet").map(EC2Decoding.instance)
    }

    /// Terminates instances (`TerminateInstances`).
    /// - Parameter instanceIds: The instances.
    /// - Returns: Each instance's state change.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func terminateInstances(instanceIds: [String]) async throws -> [InstanceStateChange] {
        precondition(!instanceIds.isEmpty, "terminateInstances: no instance ids")
        var query = EC2Query(action: "TerminateInstances")
        query.list("InstanceId", instanceIds)
        return try await send(query).items("instancesSet").map(EC2Decoding.stateChange)
    }

    /// Lists Availability Zones (`DescribeAvailabilityZones`).
    /// - Parameter zoneNames: Only these zones (empty: all enabled zones of the region).
    /// - Returns: The zones.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeAvailabilityZones(zoneNames: [String] = []) async throws -> [AvailabilityZone] {
        var query = EC2Query(action: "DescribeAvailabilityZones")
        query.list("ZoneName", zoneNames)
        return try await send(query).items("availabilityZoneInfo").map(EC2Decoding.availabilityZone)
    }
}
