extension CheckpointMetadata {
    /// The largest step, epoch, position or count a checkpoint may record: 2⁴⁸
    /// (281 474 976 710 656). Far beyond any run (a step per microsecond for nine years),
    /// and small enough that a resumed run can keep counting, and multiply a count by a
    /// batch size or an element size, without overflowing `Int`.
    public static let maximumCount = 1 << 48

    /// Checks every integer field of the metadata against its range, so that nothing read
    /// from a file can trap or overflow later: ``epoch``, ``stepInEpoch``, ``globalStep``
    /// and the optimizer's step must be in `0...maximumCount`; the model signature's
    /// dimensions must be non-negative and describe at most ``maximumCount`` elements per
    /// parameter. ``createdUnixMilliseconds`` is informational and any value is accepted.
    /// The training-state values in ``extra`` are checked by ``TrainingState``.
    /// - Parameter path: The file, for errors.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   naming the field and its value.
    public func validateRanges(path: String? = nil) throws {
        func check(_ name: String, _ value: Int) throws {
            guard value >= 0, value <= Self.maximumCount else {
                throw CheckpointError(.invalidMetadata,
                                      "metadata field '\(name)' is \(value), outside 0...\(Self.maximumCount)", path: path)
            }
        }
        try check("epoch", epoch)
        try check("step_in_epoch", stepInEpoch)
        try check("global_step", globalStep)
        if let optimizer { try check("optimizer.step", optimizer.step) }
        for p in modelSignature.parameters {
            var count = 1
            for d in p.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow, product <= Self.maximumCount else {
                    throw CheckpointError(.invalidMetadata,
                                          "model signature parameter '\(p.name)' has shape \(p.shape), outside the limit of \(Self.maximumCount) elements",
                                          path: path)
                }
                count = product
            }
        }
    }
}
