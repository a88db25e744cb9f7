extension CheckpointMetadata {
    /// The largest step, epoch, position or count a checkpoint may record: 2⁴⁸
    /// (281 474 976 710 656). Far beyond any run (a step per microsecond for nine years),
    /// and small enough that a resumed run can keep counting, and multiply a count by a
    /// batch size or an element size, without overflowing `Int`.
    public static let maximumCount = 1 << 48

    /// Checks the top-level integer fields of the metadata against their ranges, so that
    /// nothing read from a file can trap or overflow later: ``globalStep`` must be in
    /// `0...maximumCount`; in the model signature every dimension must be non-negative and
    /// the product of the non-zero dimensions at most ``maximumCount`` (so the order of the
    /// dimensions does not matter, and a zero dimension does not hide a huge one).
    /// ``createdUnixMilliseconds`` is informational and any value is accepted. The training
    /// state is checked by ``TrainingState/validate(_:path:)``.
    /// - Parameter path: The file, for errors.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/invalidMetadata``
    ///   naming the field and its value.
    public func validateRanges(path: String? = nil) throws {
        guard globalStep >= 0, globalStep <= Self.maximumCount else {
            throw CheckpointError(.invalidMetadata,
                                  "metadata field 'global_step' is \(globalStep), outside 0...\(Self.maximumCount)", path: path)
        }
        for p in modelSignature.parameters {
            var product = 1
            for d in p.shape where d != 0 {
                let (next, overflow) = product.multipliedReportingOverflow(by: d)
                guard d > 0, !overflow, next <= Self.maximumCount else {
                    throw CheckpointError(.invalidMetadata,
                                          "model signature parameter '\(p.name)' has shape \(p.shape), outside the limit of \(Self.maximumCount) elements",
                                          path: path)
                }
                product = next
            }
        }
    }
}
