extension EC2Error {
    /// Whether the resource to be created exists already: Auto Scaling's `AlreadyExists`
    /// (a group of that name) or EC2's `InvalidLaunchTemplateName.AlreadyExistsException`.
    public var isAlreadyExists: Bool {
        code == "AlreadyExists" || code == "InvalidLaunchTemplateName.AlreadyExistsException"
    }

    /// Whether Auto Scaling rejected a request because the named group does not exist
    /// (`ValidationError` with "AutoScalingGroup name not found", as `UpdateAutoScalingGroup`,
    /// `SetDesiredCapacity` and `DeleteAutoScalingGroup` answer).
    public var isAutoScalingGroupNotFound: Bool {
        code == "ValidationError" && message.localizedCaseInsensitiveContains("AutoScalingGroup name not found")
    }

    /// Whether EC2 rejected a request because the named launch template does not exist
    /// (`InvalidLaunchTemplateName.NotFoundException`, `InvalidLaunchTemplateId.NotFound`, …).
    public var isLaunchTemplateNotFound: Bool {
        code.hasPrefix("InvalidLaunchTemplateName.NotFound") || code.hasPrefix("InvalidLaunchTemplateId.NotFound")
    }
}
