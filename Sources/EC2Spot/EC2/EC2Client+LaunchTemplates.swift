import Foundation

extension EC2Client {
    /// Creates a launch template (`CreateLaunchTemplate`).
    /// - Parameter request: The template's name, data and tags.
    /// - Returns: The new template.
    /// - Throws: ``EC2Error`` (`InvalidLaunchTemplateName.AlreadyExistsException` when the name
    ///   is taken: ``EC2Error/isAlreadyExists``), ``TransportError``.
    public func createLaunchTemplate(_ request: CreateLaunchTemplateRequest) async throws -> LaunchTemplate {
        var query = EC2Query(action: "CreateLaunchTemplate")
        query.set("LaunchTemplateName", request.launchTemplateName)
        query.set("VersionDescription", request.versionDescription)
        query.set("ClientToken", request.clientToken)
        query.launchTemplateData(request.launchTemplateData)
        if !request.tags.isEmpty {
            query.tagSpecifications([TagSpecification(resourceType: "launch-template", tags: request.tags)])
        }
        let root = try await send(query)
        guard let template = root.child("launchTemplate") else {
            throw EC2Decoding.missing("launchTemplate", in: root.name)
        }
        return try EC2Decoding.launchTemplate(template)
    }

    /// Describes launch templates (`DescribeLaunchTemplates`), following `NextToken`.
    /// - Parameters:
    ///   - names: Only these names (EC2 fails the whole call if one does not exist).
    ///   - ids: Only these ids.
    ///   - filters: Only templates matching all filters (for example `tag:KEY`).
    /// - Returns: The templates.
    /// - Throws: ``EC2Error`` (`InvalidLaunchTemplateName.NotFoundException` for an unknown
    ///   name: ``EC2Error/isLaunchTemplateNotFound``), ``TransportError``.
    public func describeLaunchTemplates(names: [String] = [], ids: [String] = [],
                                        filters: [Filter] = []) async throws -> [LaunchTemplate] {
        var query = EC2Query(action: "DescribeLaunchTemplates")
        query.list("LaunchTemplateName", names)
        query.list("LaunchTemplateId", ids)
        query.filters(filters)
        return try await paginate(query) { root in
            try root.items("launchTemplates").map(EC2Decoding.launchTemplate)
        }
    }

    /// The launch template named `name`, or nil if there is none.
    /// - Parameter name: The template's name.
    /// - Returns: The template, or nil when EC2 reports it not found.
    /// - Throws: ``EC2Error`` other than "not found", ``TransportError``.
    public func launchTemplate(named name: String) async throws -> LaunchTemplate? {
        do {
            return try await describeLaunchTemplates(names: [name]).first { $0.launchTemplateName == name }
        } catch let error as EC2Error where error.isLaunchTemplateNotFound {
            return nil
        }
    }

    /// Deletes a launch template and all its versions (`DeleteLaunchTemplate`).
    /// - Parameter reference: The template, by id or by name.
    /// - Returns: The deleted template.
    /// - Throws: ``EC2Error`` (``EC2Error/isLaunchTemplateNotFound`` when it does not exist),
    ///   ``TransportError``.
    @discardableResult
    public func deleteLaunchTemplate(_ reference: LaunchTemplateSpecification.Reference) async throws -> LaunchTemplate {
        var query = EC2Query(action: "DeleteLaunchTemplate")
        switch reference {
        case .id(let id): query.set("LaunchTemplateId", id)
        case .name(let name): query.set("LaunchTemplateName", name)
        }
        let root = try await send(query)
        guard let template = root.child("launchTemplate") else {
            throw EC2Decoding.missing("launchTemplate", in: root.name)
        }
        return try EC2Decoding.launchTemplate(template)
    }

    /// Describes versions of one launch template (`DescribeLaunchTemplateVersions`), following
    /// `NextToken`; used to read back what instances will get (user data, image, tags).
    /// - Parameters:
    ///   - reference: The template, by id or by name.
    ///   - versions: The versions: numbers, `$Latest`, `$Default` (empty: all).
    /// - Returns: The versions with their data.
    /// - Throws: ``EC2Error`` (``EC2Error/isLaunchTemplateNotFound``), ``TransportError``.
    public func describeLaunchTemplateVersions(_ reference: LaunchTemplateSpecification.Reference,
                                               versions: [String] = []) async throws -> [LaunchTemplateVersion] {
        var query = EC2Query(action: "DescribeLaunchTemplateVersions")
        switch reference {
        case .id(let id): query.set("LaunchTemplateId", id)
        case .name(let name): query.set("LaunchTemplateName", name)
        }
        query.list("LaunchTemplateVersion", versions)
        return try await paginate(query) { root in
            try root.items("launchTemplateVersionSet").map(EC2Decoding.launchTemplateVersion)
        }
    }
}

extension EC2Query {
    /// `LaunchTemplateData.…` in EC2's Query spelling (`SecurityGroupId.N`,
    /// `TagSpecification.N.Tag.M.Key`, base64 `UserData`).
    mutating func launchTemplateData(_ data: LaunchTemplateData) {
        let prefix = "LaunchTemplateData"
        set("\(prefix).ImageId", data.imageId)
        set("\(prefix).InstanceType", data.instanceType)
        switch data.iamInstanceProfile {
        case .name(let name): set("\(prefix).IamInstanceProfile.Name", name)
        case .arn(let arn): set("\(prefix).IamInstanceProfile.Arn", arn)
        case nil: break
        }
        set("\(prefix).KeyName", data.keyName)
        list("\(prefix).SecurityGroupId", data.securityGroupIds)
        set("\(prefix).UserData", data.userData.map { Data($0.utf8).base64EncodedString() })
        set("\(prefix).InstanceInitiatedShutdownBehavior", data.instanceInitiatedShutdownBehavior?.rawValue)
        if let metadata = data.metadataOptions {
            set("\(prefix).MetadataOptions.HttpTokens", metadata.httpTokens.rawValue)
            set("\(prefix).MetadataOptions.HttpPutResponseHopLimit", metadata.hopLimit)
            set("\(prefix).MetadataOptions.HttpEndpoint", metadata.endpointEnabled ? "enabled" : "disabled")
            set("\(prefix).MetadataOptions.HttpProtocolIpv6", metadata.ipv6Enabled.map { $0 ? "enabled" : "disabled" })
        }
        for (index, specification) in data.tagSpecifications.enumerated() {
            set("\(prefix).TagSpecification.\(index + 1).ResourceType", specification.resourceType)
            tags("\(prefix).TagSpecification.\(index + 1).Tag", specification.tags)
        }
    }
}

extension EC2Decoding {
    static func launchTemplate(_ xml: EC2XML.Element) throws -> LaunchTemplate {
        LaunchTemplate(launchTemplateId: try xml.required("launchTemplateId"),
                       launchTemplateName: xml.text("launchTemplateName") ?? "",
                       defaultVersionNumber: xml.int("defaultVersionNumber"),
                       latestVersionNumber: xml.int("latestVersionNumber"),
                       createTime: xml.date("createTime"),
                       tags: xml.tags)
    }

    static func launchTemplateVersion(_ xml: EC2XML.Element) throws -> LaunchTemplateVersion {
        let data = xml.child("launchTemplateData") ?? EC2XML.Element(name: "launchTemplateData", text: "", children: [])
        let profile: RunInstancesRequest.IAMInstanceProfile? =
            data.child("iamInstanceProfile").flatMap { element in
                element.string("arn").map { .arn($0) } ?? element.string("name").map { .name($0) }
            }
        let metadata = data.child("metadataOptions").map { element in
            RunInstancesRequest.MetadataOptions(
                httpTokens: element.text("httpTokens") == "optional" ? .optional : .required,
                hopLimit: element.int("httpPutResponseHopLimit"),
                endpointEnabled: element.text("httpEndpoint") != "disabled",
                ipv6Enabled: element.string("httpProtocolIpv6").map { $0 == "enabled" })
        }
        let userData = data.string("userData").flatMap { Data(base64Encoded: $0) }
            .flatMap { String(data: $0, encoding: .utf8) }
        return LaunchTemplateVersion(
            launchTemplateId: try xml.required("launchTemplateId"),
            launchTemplateName: xml.text("launchTemplateName") ?? "",
            versionNumber: xml.int("versionNumber") ?? 0,
            isDefaultVersion: xml.bool("defaultVersion"),
            launchTemplateData: LaunchTemplateData(
                imageId: data.string("imageId"),
                iamInstanceProfile: profile,
                keyName: data.string("keyName"),
                securityGroupIds: data.items("securityGroupIdSet").map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) },
                userData: userData,
                metadataOptions: metadata,
                tagSpecifications: data.items("tagSpecificationSet").map { item in
                    TagSpecification(resourceType: item.text("resourceType") ?? "", tags: item.tags)
                },
                instanceInitiatedShutdownBehavior: data.string("instanceInitiatedShutdownBehavior")
                    .flatMap(RunInstancesRequest.ShutdownBehavior.init(rawValue:)),
                instanceType: data.string("instanceType")))
    }
}
