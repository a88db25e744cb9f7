import EC2Spot
import Foundation
import Testing

@Suite struct LaunchTemplateAndSpotPriceTests {
    static let ns = "http://ec2.amazonaws.com/doc/2016-11-15/"

    static func templateBody(_ action: String) -> String {
        """
        <\(action)Response xmlns="\(ns)">
          <requestId>req-lt</requestId>
          <launchTemplate>
            <launchTemplateId>lt-0abc</launchTemplateId><launchTemplateName>job-lt</launchTemplateName>
            <createTime>2024-06-01T10:00:00.000Z</createTime><createdBy>arn:aws:iam::123456789012:root</createdBy>
            <defaultVersionNumber>1</defaultVersionNumber><latestVersionNumber>3</latestVersionNumber>
            <tagSet><item><key>spottrain:job</key><value>mnist</value></item></tagSet>
          </launchTemplate>
        </\(action)Response>
        """
    }

    @Test func createLaunchTemplateEncodesIMDSv2UserDataAndBothTagKinds() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: Self.templateBody("CreateLaunchTemplate"))
        let request = CreateLaunchTemplateRequest(
            launchTemplateName: "job-lt",
            launchTemplateData: LaunchTemplateData(
                imageId: "ami-1", iamInstanceProfile: .name("trainer"), keyName: "me",
                securityGroupIds: ["sg-1", "sg-2"], userData: "#!/bin/sh\nspottrain job run --store s3://b/p\n",
                tagSpecifications: [TagSpecification(resourceType: "instance", tags: [Tag(key: "spottrain:job", value: "mnist")]),
                                    TagSpecification(resourceType: "volume", tags: [Tag(key: "spottrain:job", value: "mnist")])]),
            tags: [Tag(key: "spottrain:job", value: "mnist")])
        let template = try await EC2TestClient.make(transport).createLaunchTemplate(request)
        #expect(template == LaunchTemplate(launchTemplateId: "lt-0abc", launchTemplateName: "job-lt",
                                           defaultVersionNumber: 1, latestVersionNumber: 3,
                                           createTime: Date(timeIntervalSince1970: 1_717_236_000),
                                           tags: [Tag(key: "spottrain:job", value: "mnist")]))
        let parameters = ScriptedEC2Transport.parameterList(try #require(transport.requests.first)).map { "\($0.0)=\($0.1)" }
        let userData = Data("#!/bin/sh\nspottrain job run --store s3://b/p\n".utf8).base64EncodedString()
        #expect(parameters == [
            "Action=CreateLaunchTemplate", "Version=2016-11-15", "LaunchTemplateName=job-lt",
            "LaunchTemplateData.ImageId=ami-1", "LaunchTemplateData.IamInstanceProfile.Name=trainer",
            "LaunchTemplateData.KeyName=me", "LaunchTemplateData.SecurityGroupId.1=sg-1",
            "LaunchTemplateData.SecurityGroupId.2=sg-2", "LaunchTemplateData.UserData=\(userData)",
            "LaunchTemplateData.MetadataOptions.HttpTokens=required",
            "LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit=2",
            "LaunchTemplateData.MetadataOptions.HttpEndpoint=enabled",
            "LaunchTemplateData.TagSpecification.1.ResourceType=instance",
            "LaunchTemplateData.TagSpecification.1.Tag.1.Key=spottrain:job",
            "LaunchTemplateData.TagSpecification.1.Tag.1.Value=mnist",
            "LaunchTemplateData.TagSpecification.2.ResourceType=volume",
            "LaunchTemplateData.TagSpecification.2.Tag.1.Key=spottrain:job",
            "LaunchTemplateData.TagSpecification.2.Tag.1.Value=mnist",
            "TagSpecification.1.ResourceType=launch-template",
            "TagSpecification.1.Tag.1.Key=spottrain:job", "TagSpecification.1.Tag.1.Value=mnist",
        ])
    }

    @Test func instanceProfileByArnUsesArnField() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: Self.templateBody("CreateLaunchTemplate"))
        let arn = "arn:aws:iam::123456789012:instance-profile/trainer"
        _ = try await EC2TestClient.make(transport).createLaunchTemplate(CreateLaunchTemplateRequest(
            launchTemplateName: "job-lt", launchTemplateData: LaunchTemplateData(imageId: "ami-1", iamInstanceProfile: .arn(arn))))
        let parameters = ScriptedEC2Transport.parameters(try #require(transport.requests.first))
        #expect(parameters["LaunchTemplateData.IamInstanceProfile.Arn"] == arn)
        #expect(parameters["LaunchTemplateData.IamInstanceProfile.Name"] == nil)
        #expect(parameters["TagSpecification.1.ResourceType"] == nil)
    }

    @Test func unknownTemplateNameIsNilAndTypedOnDelete() async throws {
        let transport = ScriptedEC2Transport()
        let notFound = """
            <Response><Errors><Error><Code>InvalidLaunchTemplateName.NotFoundException</Code>
            <Message>At least one of the launch templates specified in the request does not exist.</Message></Error></Errors>
            <RequestID>req-nf</RequestID></Response>
            """
        transport.enqueue(status: 400, xml: notFound)
        transport.enqueue(status: 400, xml: notFound)
        let client = EC2TestClient.make(transport)
        #expect(try await client.launchTemplate(named: "nope") == nil)
        let error = await #expect(throws: EC2Error.self) { try await client.deleteLaunchTemplate(.name("nope")) }
        #expect(error?.isLaunchTemplateNotFound == true)
        #expect(error?.code == "InvalidLaunchTemplateName.NotFoundException")
        let parameters = transport.requests.map(ScriptedEC2Transport.parameters)
        #expect(parameters[0]["LaunchTemplateName.1"] == "nope")
        #expect(parameters[1]["LaunchTemplateName"] == "nope")
    }

    @Test func otherDescribeErrorsAreNotHiddenAsMissing() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(status: 403, xml: """
            <Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>
            """)
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport).launchTemplate(named: "job-lt")
        }
        #expect(error?.code == "UnauthorizedOperation")
    }

    @Test func templateVersionsDecodeUserDataProfileMetadataAndTags() async throws {
        let transport = ScriptedEC2Transport()
        let userData = Data("#!/bin/sh\necho hi\n".utf8).base64EncodedString()
        transport.enqueue(xml: """
            <DescribeLaunchTemplateVersionsResponse xmlns="\(Self.ns)"><requestId>r</requestId>
              <launchTemplateVersionSet><item>
                <launchTemplateId>lt-0abc</launchTemplateId><launchTemplateName>job-lt</launchTemplateName>
                <versionNumber>1</versionNumber><defaultVersion>true</defaultVersion>
                <launchTemplateData>
                  <imageId>ami-1</imageId><keyName>me</keyName>
                  <iamInstanceProfile><name>trainer</name></iamInstanceProfile>
                  <securityGroupIdSet><item>sg-1</item></securityGroupIdSet>
                  <userData>\(userData)</userData>
                  <metadataOptions><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint></metadataOptions>
                  <tagSpecificationSet><item><resourceType>instance</resourceType><tagSet><item><key>k</key><value>v</value></item></tagSet></item></tagSpecificationSet>
                </launchTemplateData>
              </item></launchTemplateVersionSet>
            </DescribeLaunchTemplateVersionsResponse>
            """)
        let versions = try await EC2TestClient.make(transport).describeLaunchTemplateVersions(.id("lt-0abc"), versions: ["$Latest"])
        let version = try #require(versions.first)
        #expect(version.versionNumber == 1)
        #expect(version.isDefaultVersion)
        #expect(version.launchTemplateData == LaunchTemplateData(
            imageId: "ami-1", iamInstanceProfile: .name("trainer"), keyName: "me", securityGroupIds: ["sg-1"],
            userData: "#!/bin/sh\necho hi\n", metadataOptions: .init(httpTokens: .required, hopLimit: 2),
            tagSpecifications: [TagSpecification(resourceType: "instance", tags: [Tag(key: "k", value: "v")])]))
        let parameters = ScriptedEC2Transport.parameters(try #require(transport.requests.first))
        #expect(parameters["LaunchTemplateId"] == "lt-0abc")
        #expect(parameters["LaunchTemplateVersion.1"] == "$Latest")
    }

    static func priceBody(_ items: [(String, String, String, String)], nextToken: String? = nil) -> String {
        let rows = items.map { type, zone, price, time in
            """
            <item><instanceType>\(type)</instanceType><productDescription>Linux/UNIX</productDescription>
            <spotPrice>\(price)</spotPrice><timestamp>\(time)</timestamp><availabilityZone>\(zone)</availabilityZone></item>
            """
        }.joined()
        return """
            <DescribeSpotPriceHistoryResponse xmlns="\(ns)"><requestId>r</requestId>
            <spotPriceHistorySet>\(rows)</spotPriceHistorySet>\(nextToken.map { "<nextToken>\($0)</nextToken>" } ?? "<nextToken/>")
            </DescribeSpotPriceHistoryResponse>
            """
    }

    @Test func spotPriceHistoryEncodesFiltersAndDecodesExactPricesAcrossPages() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: Self.priceBody([("c7g.large", "us-east-1a", "0.031200", "2024-06-01T10:00:00.000Z")],
                                              nextToken: "p2"))
        transport.enqueue(xml: Self.priceBody([("m7g.large", "us-east-1b", "0.0385", "2024-06-01T09:00:00Z")]))
        let prices = try await EC2TestClient.make(transport).describeSpotPriceHistory(SpotPriceHistoryRequest(
            instanceTypes: ["c7g.large", "m7g.large"], availabilityZone: "us-east-1a",
            startTime: Date(timeIntervalSince1970: 1_717_236_000), endTime: Date(timeIntervalSince1970: 1_717_239_600)))
        #expect(prices == [
            SpotPrice(instanceType: "c7g.large", availabilityZone: "us-east-1a", productDescription: "Linux/UNIX",
                      pricePerHour: Decimal(string: "0.0312")!, timestamp: Date(timeIntervalSince1970: 1_717_236_000)),
            SpotPrice(instanceType: "m7g.large", availabilityZone: "us-east-1b", productDescription: "Linux/UNIX",
                      pricePerHour: Decimal(string: "0.0385")!, timestamp: Date(timeIntervalSince1970: 1_717_232_400)),
        ])
        let first = ScriptedEC2Transport.parameterList(transport.requests[0]).map { "\($0.0)=\($0.1)" }
        #expect(first == ["Action=DescribeSpotPriceHistory", "Version=2016-11-15", "InstanceType.1=c7g.large",
                          "InstanceType.2=m7g.large", "ProductDescription.1=Linux/UNIX", "AvailabilityZone=us-east-1a",
                          "StartTime=2024-06-01T10:00:00Z", "EndTime=2024-06-01T11:00:00Z"])
        #expect(ScriptedEC2Transport.parameters(transport.requests[1])["NextToken"] == "p2")
    }

    @Test(arguments: ["-0.5", "abc", "1e3", "NaN", ""])
    func spotPriceThatIsNotADecimalIsMalformed(_ price: String) async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: Self.priceBody([("c7g.large", "us-east-1a", price, "2024-06-01T10:00:00Z")]))
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport).describeSpotPriceHistory(SpotPriceHistoryRequest())
        }
        #expect(error?.code == EC2Error.malformedResponseCode)
    }

    @Test func spotPriceWithBadTimestampIsMalformed() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(xml: Self.priceBody([("c7g.large", "us-east-1a", "0.03", "yesterday")]))
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport).describeSpotPriceHistory(SpotPriceHistoryRequest())
        }
        #expect(error?.code == EC2Error.malformedResponseCode)
        #expect(error?.message.contains("timestamp") == true)
    }

    @Test func describeInstancesDecodesStateReason() async throws {
        let transport = ScriptedEC2Transport()
        let item = EC2XMLBodies.instanceItem(id: "i-1", state: "terminated", code: 48)
            .replacingOccurrences(of: "<reason/>", with: """
                <reason>Service initiated (2024-06-01 10:05:00 GMT)</reason>
                <stateReason><code>Server.SpotInstanceTermination</code><message>Server.SpotInstanceTermination: Spot instance termination</message></stateReason>
                """)
        transport.enqueue(xml: EC2XMLBodies.describeInstances([item, EC2XMLBodies.instanceItem(id: "i-2")]))
        let instances = try await EC2TestClient.make(transport).describeInstances()
        #expect(instances[0].stateReason?.code == "Server.SpotInstanceTermination")
        #expect(instances[0].stateReason?.isSpotInterruption == true)
        #expect(instances[0].stateTransitionReason == "Service initiated (2024-06-01 10:05:00 GMT)")
        #expect(instances[0].launchTime == Date(timeIntervalSince1970: 1_717_236_000))
        #expect(instances[1].stateReason == nil)
        #expect(instances[1].stateTransitionReason == nil)
    }
}
