/// Response bodies in the exact shape EC2 sends them (namespace, `requestId`, `…Set/item`).
enum EC2XMLBodies {
    static let namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
    static let requestId = "59dbff89-35bd-4eac-99ed-be587EXAMPLE"

    static func tagSet(_ tags: [(String, String)]) -> String {
        guard !tags.isEmpty else { return "<tagSet/>" }
        return "<tagSet>" + tags.map { "<item><key>\($0.0)</key><value>\($0.1)</value></item>" }.joined() + "</tagSet>"
    }

    static func attachment(volumeId: String, instanceId: String, device: String = "/dev/xvdb",
                           state: String) -> String {
        """
        <item>
            <volumeId>\(volumeId)</volumeId>
            <instanceId>\(instanceId)</instanceId>
            <device>\(device)</device>
            <status>\(state)</status>
            <attachTime>2024-06-01T12:00:00.000Z</attachTime>
            <deleteOnTermination>false</deleteOnTermination>
        </item>
        """
    }

    static func volumeItem(id: String, az: String = "us-east-1a", state: String = "available", size: Int = 100,
                           attachments: [String] = [], tags: [(String, String)] = [("spottrain:volume", "data")],
                           createTime: String = "2024-06-01T11:00:00.000Z") -> String {
        """
        <item>
            <volumeId>\(id)</volumeId>
            <size>\(size)</size>
            <snapshotId/>
            <availabilityZone>\(az)</availabilityZone>
            <status>\(state)</status>
            <createTime>\(createTime)</createTime>
            <attachmentSet>\(attachments.joined())</attachmentSet>
            \(tagSet(tags))
            <volumeType>gp3</volumeType>
            <iops>3000</iops>
            <encrypted>false</encrypted>
            <throughput>125</throughput>
            <multiAttachEnabled>false</multiAttachEnabled>
        </item>
        """
    }

    static func describeVolumes(_ items: [String], nextToken: String? = nil) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeVolumesResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <volumeSet>\(items.joined())</volumeSet>
            \(nextToken.map { "<nextToken>\($0)</nextToken>" } ?? "")
        </DescribeVolumesResponse>
        """
    }

    static func createVolume(id: String, az: String = "us-east-1a", size: Int = 100, snapshotId: String? = nil,
                             tags: [(String, String)] = [("spottrain:volume", "data")]) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <CreateVolumeResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <volumeId>\(id)</volumeId>
            <size>\(size)</size>
            \(snapshotId.map { "<snapshotId>\($0)</snapshotId>" } ?? "<snapshotId/>")
            <availabilityZone>\(az)</availabilityZone>
            <status>creating</status>
            <createTime>2024-06-01T12:00:00.000Z</createTime>
            <volumeType>gp3</volumeType>
            <iops>3000</iops>
            <encrypted>false</encrypted>
            \(tagSet(tags))
            <multiAttachEnabled>false</multiAttachEnabled>
            <throughput>125</throughput>
        </CreateVolumeResponse>
        """
    }

    static func attachmentResponse(_ action: String, volumeId: String, instanceId: String, device: String = "/dev/xvdb",
                                   state: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <\(action)Response xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <volumeId>\(volumeId)</volumeId>
            <instanceId>\(instanceId)</instanceId>
            <device>\(device)</device>
            <status>\(state)</status>
            <attachTime>2024-06-01T12:00:00.000Z</attachTime>
        </\(action)Response>
        """
    }

    static func returnTrue(_ action: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <\(action)Response xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <return>true</return>
        </\(action)Response>
        """
    }

    static func instanceItem(id: String, state: String = "running", code: Int = 16, az: String = "us-east-1a",
                             lifecycle: String? = "spot") -> String {
        """
        <item>
            <instanceId>\(id)</instanceId>
            <imageId>ami-12c6146b</imageId>
            <instanceState><code>\(code)</code><name>\(state)</name></instanceState>
            <privateDnsName>ip-10-0-0-12.ec2.internal</privateDnsName>
            <dnsName/>
            <reason/>
            <amiLaunchIndex>0</amiLaunchIndex>
            <productCodes/>
            <instanceType>g5.xlarge</instanceType>
            <launchTime>2024-06-01T10:00:00.000Z</launchTime>
            <placement><availabilityZone>\(az)</availabilityZone><groupName/><tenancy>default</tenancy></placement>
            <monitoring><state>disabled</state></monitoring>
            <subnetId>subnet-1</subnetId>
            <privateIpAddress>10.0.0.12</privateIpAddress>
            <ipAddress>3.80.0.1</ipAddress>
            <groupSet><item><groupId>sg-1</groupId><groupName>default</groupName></item></groupSet>
            <architecture>x86_64</architecture>
            <rootDeviceType>ebs</rootDeviceType>
            <rootDeviceName>/dev/xvda</rootDeviceName>
            <blockDeviceMapping/>
            \(lifecycle.map { "<instanceLifecycle>\($0)</instanceLifecycle><spotInstanceRequestId>sir-abc123</spotInstanceRequestId>" } ?? "")
            <virtualizationType>hvm</virtualizationType>
            <tagSet><item><key>Name</key><value>trainer</value></item></tagSet>
            <hypervisor>xen</hypervisor>
        </item>
        """
    }

    static func describeInstances(_ items: [String], nextToken: String? = nil) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeInstancesResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <reservationSet>
                <item>
                    <reservationId>r-1234567890abcdef0</reservationId>
                    <ownerId>123456789012</ownerId>
                    <groupSet/>
                    <instancesSet>\(items.joined())</instancesSet>
                </item>
            </reservationSet>
            \(nextToken.map { "<nextToken>\($0)</nextToken>" } ?? "")
        </DescribeInstancesResponse>
        """
    }

    static func runInstances(_ items: [String]) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <RunInstancesResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <reservationId>r-1234567890abcdef0</reservationId>
            <ownerId>123456789012</ownerId>
            <groupSet/>
            <instancesSet>\(items.joined())</instancesSet>
        </RunInstancesResponse>
        """
    }

    static func terminateInstances(_ id: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <TerminateInstancesResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <instancesSet>
                <item>
                    <instanceId>\(id)</instanceId>
                    <currentState><code>32</code><name>shutting-down</name></currentState>
                    <previousState><code>16</code><name>running</name></previousState>
                </item>
            </instancesSet>
        </TerminateInstancesResponse>
        """
    }

    static func snapshotFields(id: String, volumeId: String, state: String, progress: String,
                               tags: [(String, String)] = []) -> String {
        """
        <snapshotId>\(id)</snapshotId>
        <volumeId>\(volumeId)</volumeId>
        <status>\(state)</status>
        <startTime>2024-06-01T12:30:00.000Z</startTime>
        <progress>\(progress)</progress>
        <ownerId>123456789012</ownerId>
        <volumeSize>100</volumeSize>
        <description>spottrain move</description>
        <encrypted>false</encrypted>
        \(tagSet(tags))
        """
    }

    static func createSnapshot(id: String, volumeId: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <CreateSnapshotResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            \(snapshotFields(id: id, volumeId: volumeId, state: "pending", progress: ""))
        </CreateSnapshotResponse>
        """
    }

    static func describeSnapshots(_ items: [(id: String, volumeId: String, state: String)]) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeSnapshotsResponse xmlns="\(namespace)">
            <requestId>\(requestId)</requestId>
            <snapshotSet>\(items.map { "<item>" + snapshotFields(id: $0.id, volumeId: $0.volumeId, state: $0.state, progress: $0.state == "completed" ? "100%" : "42%") + "</item>" }.joined())</snapshotSet>
        </DescribeSnapshotsResponse>
        """
    }

    /// EC2's own error envelope.
    static func ec2Error(code: String, message: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Response><Errors><Error><Code>\(code)</Code><Message>\(message)</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>
        """
    }

    /// The envelope of IAM/STS and other Query services.
    static func errorResponse(code: String, message: String) -> String {
        """
        <ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
          <Error>
            <Type>Sender</Type>
            <Code>\(code)</Code>
            <Message>\(message)</Message>
          </Error>
          <RequestId>4a0b2c9f-1d2e-example</RequestId>
        </ErrorResponse>
        """
    }
}
