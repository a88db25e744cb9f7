import Foundation

extension AutoScalingClient {
    /// Creates a group (`CreateAutoScalingGroup`).
    /// - Parameter request: The group.
    /// - Throws: ``EC2Error`` (`AlreadyExists` when a group of that name exists: see
    ///   ``EC2Error/isAlreadyExists``; `ValidationError` for a bad template or subnet),
    ///   ``TransportError``.
    public func createAutoScalingGroup(_ request: CreateAutoScalingGroupRequest) async throws {
        var query = Self.query("CreateAutoScalingGroup")
        query.set("AutoScalingGroupName", request.autoScalingGroupName)
        query.mixedInstancesPolicy(request.mixedInstancesPolicy)
        query.set("MinSize", request.minSize)
        query.set("MaxSize", request.maxSize)
        query.set("DesiredCapacity", request.desiredCapacity)
        query.set("VPCZoneIdentifier", request.subnetIds.joined(separator: ","))
        query.set("CapacityRebalance", request.capacityRebalance)
        query.set("HealthCheckGracePeriod", request.healthCheckGracePeriod)
        query.set("DefaultInstanceWarmup", request.defaultInstanceWarmup)
        query.autoScalingTags(request.tags, groupName: request.autoScalingGroupName)
        _ = try await send(query)
    }

    /// Describes groups (`DescribeAutoScalingGroups`), following `NextToken` through every
    /// page. Names that match no group are left out (AWS does not report them as errors).
    /// - Parameter names: Only these groups (empty: every group of the account and region).
    /// - Returns: The groups.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeAutoScalingGroups(names: [String] = []) async throws -> [AutoScalingGroup] {
        var query = Self.query("DescribeAutoScalingGroups")
        query.members("AutoScalingGroupNames", names)
        return try await paginate(query) { result in
            try result.members("AutoScalingGroups").map(AutoScalingDecoding.group)
        }
    }

    /// The group named `name`, or nil if there is none.
    /// - Parameter name: The group's name.
    /// - Returns: The group, or nil.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func autoScalingGroup(named name: String) async throws -> AutoScalingGroup? {
        try await describeAutoScalingGroups(names: [name]).first { $0.autoScalingGroupName == name }
    }

    /// Changes a group's sizes (`UpdateAutoScalingGroup`); nil leaves a size as it is.
    /// - Parameters:
    ///   - name: The group.
    ///   - minSize: The new minimum.
    ///   - maxSize: The new maximum.
    ///   - desiredCapacity: The new desired capacity.
    /// - Throws: ``EC2Error`` (`ValidationError` "AutoScalingGroup name not found": see
    ///   ``EC2Error/isAutoScalingGroupNotFound``), ``TransportError``.
    public func updateAutoScalingGroup(name: String, minSize: Int? = nil, maxSize: Int? = nil,
                                       desiredCapacity: Int? = nil) async throws {
        var query = Self.query("UpdateAutoScalingGroup")
        query.set("AutoScalingGroupName", name)
        query.set("MinSize", minSize)
        query.set("MaxSize", maxSize)
        query.set("DesiredCapacity", desiredCapacity)
        _ = try await send(query)
    }

    /// Sets a group's desired capacity (`SetDesiredCapacity`); 0 terminates its instances.
    /// - Parameters:
    ///   - name: The group.
    ///   - desiredCapacity: The new desired capacity (within the group's min and max).
    ///   - honorCooldown: Whether to wait for a running cooldown (default false: act now).
    /// - Throws: ``EC2Error`` (`ValidationError` when the group does not exist or the value is
    ///   outside min…max), ``TransportError``.
    public func setDesiredCapacity(name: String, desiredCapacity: Int, honorCooldown: Bool = false) async throws {
        precondition(desiredCapacity >= 0, "setDesiredCapacity: desiredCapacity \(desiredCapacity) < 0")
        var query = Self.query("SetDesiredCapacity")
        query.set("AutoScalingGroupName", name)
        query.set("DesiredCapacity", desiredCapacity)
        query.set("HonorCooldown", honorCooldown)
        _ = try await send(query)
    }

    /// Deletes a group (`DeleteAutoScalingGroup`).
    /// - Parameters:
    ///   - name: The group.
    ///   - forceDelete: Whether to terminate its instances with it (default true); without
    ///     it AWS refuses while the group has instances.
    /// - Throws: ``EC2Error`` (`ValidationError` when the group does not exist:
    ///   ``EC2Error/isAutoScalingGroupNotFound``; `ResourceInUse`, `ScalingActivityInProgress`),
    ///   ``TransportError``.
    public func deleteAutoScalingGroup(name: String, forceDelete: Bool = true) async throws {
        var query = Self.query("DeleteAutoScalingGroup")
        query.set("AutoScalingGroupName", name)
        query.set("ForceDelete", forceDelete)
        _ = try await send(query)
    }

    /// Lists a group's scaling activities (`DescribeScalingActivities`), newest first as AWS
    /// returns them, following `NextToken` through every page.
    /// - Parameters:
    ///   - groupName: The group (nil: every group).
    ///   - maxRecords: Records per page (nil: AWS's default, 100).
    /// - Returns: The activities.
    /// - Throws: ``EC2Error``, ``TransportError``.
    public func describeScalingActivities(groupName: String?, maxRecords: Int? = nil) async throws -> [ScalingActivity] {
        var query = Self.query("DescribeScalingActivities")
        query.set("AutoScalingGroupName", groupName)
        query.set("MaxRecords", maxRecords)
        return try await paginate(query) { result in
            try result.members("Activities").map(AutoScalingDecoding.activity)
        }
    }
}
