import EC2Spot
import Foundation

/// Auto Scaling clients and response bodies for the scripted-transport tests.
enum AutoScalingTestClient {
    static func make(_ transport: ScriptedEC2Transport, clock: EC2TestClock = EC2TestClock(),
                     retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(8),
                                                      random: { 0.5 })) -> AutoScalingClient {
        AutoScalingClient(region: "us-east-1", endpoint: URL(string: "https://autoscaling.us-east-1.amazonaws.com")!,
                          credentialsProvider: StaticCredentialsProvider(EC2TestClient.credentials),
                          transport: transport, clock: clock.clock, retryPolicy: retry)
    }
}

enum AutoScalingXMLBodies {
    static let namespace = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

    static func empty(_ action: String) -> String {
        """
        <\(action)Response xmlns="\(namespace)">
          <ResponseMetadata><RequestId>req-\(action)</RequestId></ResponseMetadata>
        </\(action)Response>
        """
    }

    static func error(code: String, message: String, type: String = "Sender") -> String {
        """
        <ErrorResponse xmlns="\(namespace)">
          <Error><Type>\(type)</Type><Code>\(code)</Code><Message>\(message)</Message></Error>
          <RequestId>req-err</RequestId>
        </ErrorResponse>
        """
    }

    static func instance(id: String, type: String = "c7g.large", az: String = "us-east-1a",
                         state: String = "InService") -> String {
        """
        <member>
          <InstanceId>\(id)</InstanceId><InstanceType>\(type)</InstanceType>
          <AvailabilityZone>\(az)</AvailabilityZone><LifecycleState>\(state)</LifecycleState>
          <HealthStatus>Healthy</HealthStatus>
          <LaunchTemplate><LaunchTemplateId>lt-0abc</LaunchTemplateId><LaunchTemplateName>job-lt</LaunchTemplateName><Version>1</Version></LaunchTemplate>
          <ProtectedFromScaleIn>false</ProtectedFromScaleIn>
        </member>
        """
    }

    static func group(name: String, desired: Int = 1, instances: [String] = [], status: String? = nil) -> String {
        """
        <member>
          <AutoScalingGroupName>\(name)</AutoScalingGroupName>
          <AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/\(name)</AutoScalingGroupARN>
          <MixedInstancesPolicy>
            <LaunchTemplate>
              <LaunchTemplateSpecification><LaunchTemplateId>lt-0abc</LaunchTemplateId><LaunchTemplateName>job-lt</LaunchTemplateName><Version>$Latest</Version></LaunchTemplateSpecification>
              <Overrides><member><InstanceType>c7g.large</InstanceType></member><member><InstanceType>m7g.large</InstanceType></member></Overrides>
            </LaunchTemplate>
            <InstancesDistribution>
              <OnDemandAllocationStrategy>prioritized</OnDemandAllocationStrategy>
              <OnDemandBaseCapacity>0</OnDemandBaseCapacity>
              <OnDemandPercentageAboveBaseCapacity>0</OnDemandPercentageAboveBaseCapacity>
              <SpotAllocationStrategy>price-capacity-optimized</SpotAllocationStrategy>
            </InstancesDistribution>
          </MixedInstancesPolicy>
          <MinSize>0</MinSize><MaxSize>1</MaxSize><DesiredCapacity>\(desired)</DesiredCapacity>
          <DefaultCooldown>300</DefaultCooldown>
          <AvailabilityZones><member>us-east-1a</member><member>us-east-1b</member></AvailabilityZones>
          <HealthCheckType>EC2</HealthCheckType>
          <Instances>\(instances.joined())</Instances>
          <CreatedTime>2024-06-01T10:00:00.123Z</CreatedTime>
          <VPCZoneIdentifier>subnet-1,subnet-2</VPCZoneIdentifier>
          <Tags>
            <member><ResourceId>\(name)</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>spottrain:job</Key><Value>mnist</Value><PropagateAtLaunch>true</PropagateAtLaunch></member>
            <member><ResourceId>\(name)</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>owner</Key><Value>a &amp; b</Value><PropagateAtLaunch>false</PropagateAtLaunch></member>
          </Tags>
          \(status.map { "<Status>\($0)</Status>" } ?? "")
          <CapacityRebalance>true</CapacityRebalance>
        </member>
        """
    }

    static func describeGroups(_ groups: [String], nextToken: String? = nil) -> String {
        """
        <DescribeAutoScalingGroupsResponse xmlns="\(namespace)">
          <DescribeAutoScalingGroupsResult>
            <AutoScalingGroups>\(groups.joined())</AutoScalingGroups>
            \(nextToken.map { "<NextToken>\($0)</NextToken>" } ?? "")
          </DescribeAutoScalingGroupsResult>
          <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
        </DescribeAutoScalingGroupsResponse>
        """
    }

    static func activity(id: String, status: String = "Successful", end: Bool = true) -> String {
        """
        <member>
          <ActivityId>\(id)</ActivityId><AutoScalingGroupName>job</AutoScalingGroupName>
          <Description>Launching a new EC2 instance: i-0\(id)</Description>
          <Cause>At 2024-06-01T10:00:00Z an instance was started in response to a difference between desired and actual capacity.</Cause>
          <StartTime>2024-06-01T10:00:00.000Z</StartTime>
          \(end ? "<EndTime>2024-06-01T10:01:30Z</EndTime>" : "")
          <StatusCode>\(status)</StatusCode><Progress>100</Progress>
        </member>
        """
    }

    static func describeActivities(_ activities: [String], nextToken: String? = nil) -> String {
        """
        <DescribeScalingActivitiesResponse xmlns="\(namespace)">
          <DescribeScalingActivitiesResult>
            <Activities>\(activities.joined())</Activities>
            \(nextToken.map { "<NextToken>\($0)</NextToken>" } ?? "")
          </DescribeScalingActivitiesResult>
          <ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata>
        </DescribeScalingActivitiesResponse>
        """
    }
}
