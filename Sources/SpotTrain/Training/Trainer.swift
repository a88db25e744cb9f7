/// The loss and accuracy of one training step.
public struct StepResult: Sendable, Equatable {
    /// Mean loss over the batch.
    public var loss: Float
    /// Correct argmax predictions in the batch.
    public var correct: Int
    /// Examples in the batch.
    public var count: Int
}

/// Loss and accuracy over a dataset.
public struct Evaluation: Sendable, Equatable {
    /// Mean loss per example.
    public var loss: Double
    /// Fraction of correct argmax predictions.
    public var accuracy: Double
    /// Examples evaluated.
    public var count: Int
}

/// Trains a classifier: the building blocks (``trainStep(_:)``, ``evaluate(_:batchSize:)``,
/// ``predict(_:batchSize:)``) for custom loops, and ``fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``,
/// the loop with callbacks, for everything else.
///
/// The loss is softmax cross-entropy on integer labels; images are NHWC.
public final class Trainer {
    /// The model being trained.
    public let model: Layer
    /// The optimizer that updates ``model``'s parameters.
    public let optimizer: Optimizer
    /// The generator for dropout masks; its ``RandomGenerator/state`` belongs in checkpoints.
    public let rng: RandomGenerator
    /// The loss.
    public let loss = SoftmaxCrossEntropy()
    /// Makes ``fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``
    /// data-parallel: this process trains its share of every global batch and the reducer
    /// sums the gradients over all processes before the optimizer step (see
    /// ``GradientReducer``). `nil` (the default): one process trains every batch.
    public var gradientReducer: GradientReducer?
    private let parameters: [Parameter]
    private var evaluationBatch: Batch?
    private var trainingBatch: Batch?

    /// Creates a trainer.
    /// - Parameters:
    ///   - model: The model; its output must be `[batch, classes]` logits.
    ///   - optimizer: The optimizer.
    ///   - rng: The generator the model's dropout layers draw from (pass the same one).
    public init(model: Layer, optimizer: Optimizer, rng: RandomGenerator) {
        self.model = model
        self.optimizer = optimizer
        self.rng = rng
        self.parameters = model.parameters
    }

    // MARK: Building blocks

    /// Trains on one batch: zero the gradients, forward, loss, backward, optimizer step.
    /// - Parameters:
    ///   - images: `[batch, height, width, channels]`.
    ///   - labels: `batch` class indices.
    /// - Returns: The batch's mean loss and correct count (measured before the update).
    @discardableResult
    public func trainStep(images: Tensor, labels: UnsafeBufferPointer<Int32>) -> StepResult {
        for p in parameters { p.zeroGradient() }
        let logits = model.forward(images, training: true)
        let result = loss(logits: logits, labels: labels)
        _ = model.backward(result.gradient)
        optimizer.step(parameters)
        return StepResult(loss: result.loss, correct: result.correct, count: labels.count)
    }

    /// Trains on one gathered batch.
    @discardableResult
    public func trainStep(_ batch: Batch) -> StepResult {
        trainStep(images: batch.images, labels: batch.labels)
    }

    /// Computes the mean loss and accuracy over `dataset` in inference mode (no dropout).
    /// - Parameters:
    ///   - dataset: The examples.
    ///   - batchSize: Examples per forward pass (at most `dataset.count` are allocated).
    /// - Returns: The evaluation. An empty dataset has no loss or accuracy: both are NaN and
    ///   `count` is 0 (nothing is invented; callers report them as absent).
    public func evaluate(_ dataset: Dataset, batchSize: Int = 500) -> Evaluation {
        precondition(batchSize > 0, "Trainer.evaluate: batchSize \(batchSize) must be positive")
        guard dataset.count > 0 else { return Evaluation(loss: .nan, accuracy: .nan, count: 0) }
        let batchSize = min(batchSize, dataset.count)
        let batch = reusableBatch(&evaluationBatch, capacity: batchSize, exampleShape: dataset.exampleShape)
        var lossSum = 0.0, correct = 0
        var start = 0
        while start < dataset.count {
            let end = min(start + batchSize, dataset.count)
            dataset.gather(start..<end, into: batch)
            let logits = model.forward(batch.images, training: false)
            let r = loss(logits: logits, labels: batch.labels)
            lossSum += Double(r.loss) * Double(end - start)
            correct += r.correct
            start = end
        }
        return Evaluation(loss: lossSum / Double(dataset.count), accuracy: Double(correct) / Double(dataset.count),
                          count: dataset.count)
    }

    /// Computes the model's outputs for `images` in inference mode: the same as
    /// ``Layer/predict(_:batchSize:)-(Tensor,_)`` on ``model``.
    /// - Parameters:
    ///   - images: `[n, height, width, channels]`.
    ///   - batchSize: Examples per forward pass.
    /// - Returns: A new tensor `[n, classes]` of logits.
    public func predict(_ images: Tensor, batchSize: Int = 500) -> Tensor {
        model.predict(images, batchSize: batchSize)
    }

    private func reusableBatch(_ slot: inout Batch?, capacity: Int, exampleShape: [Int]) -> Batch {
        if let b = slot, b.capacity == capacity, b.exampleShape == exampleShape { return b }
        let b = Batch(capacity: capacity, exampleShape: exampleShape)
        slot = b
        return b
    }

    // MARK: The loop

    /// Trains for `epochs` epochs with callbacks, optionally continuing a saved run.
    ///
    /// Epoch `e` visits the training examples in the order ``BatchSampler`` derives from
    /// (`seed`, `e`); with `resumeFrom` the loop continues at that epoch and batch, so that a
    /// resumed run (with the parameters, optimizer state and ``rng`` state restored as well)
    /// trains exactly the batches the uninterrupted run would have.
    ///
    /// Divergence: after every step the batch loss (one scalar) is checked; if it is NaN or
    /// infinite the loop stops at once with ``TrainingStatus/diverged`` (Keras's
    /// `TerminateOnNaN`, always on). The callbacks' `batchEnd` still runs for that step and
    /// sees ``TrainingContext/hasDiverged``; ``ModelCheckpoint`` saves nothing from then on.
    ///
    /// Degenerate data: an empty `train` throws; fewer examples than `batchSize` make one
    /// (partial) batch per epoch, and the batch buffer never holds more than the data set; an
    /// empty `validation` set is skipped (no `val_loss`/`val_accuracy`, rather than invented values).
    ///
    /// - Parameters:
    ///   - train: Training examples (at least one).
    ///   - validation: Evaluated after every epoch (`val_loss`, `val_accuracy`), if given and
    ///     not empty.
    ///   - epochs: Total epochs, counting those before `resumeFrom`.
    ///   - batchSize: Examples per step (the last batch of an epoch may be smaller).
    ///   - seed: Shuffle seed.
    ///   - maxSteps: Stop once this many steps have been trained in total.
    ///   - callbacks: Called in order at every event.
    ///   - resumeFrom: The progress of a saved run.
    /// - Returns: The final context (status, progress, logs).
    /// - Throws: ``TrainingError`` `.emptyTrainingSet` if `train` is empty (before any
    ///   callback runs); otherwise whatever a callback or the ``gradientReducer`` throws.
    @discardableResult
    public func fit(train: Dataset, validation: Dataset? = nil, epochs: Int, batchSize: Int, seed: UInt64,
                    maxSteps: Int? = nil, callbacks: [Callback] = [],
                    resumeFrom: TrainingProgress? = nil) throws -> TrainingContext {
        precondition(epochs >= 0, "Trainer.fit: epochs \(epochs) must not be negative")
        precondition(batchSize > 0, "Trainer.fit: batchSize \(batchSize) must be positive")
        guard train.count > 0 else {
            throw TrainingError(.emptyTrainingSet, "the training set has no examples: there is nothing to train on")
        }
        let sampler = BatchSampler(count: train.count, batchSize: batchSize, seed: seed)
        let context = TrainingContext(trainer: self, epochs: epochs, batchSize: batchSize,
                                      batchesPerEpoch: sampler.batchesPerEpoch, trainingCount: train.count,
                                      seed: seed, maxSteps: maxSteps, progress: resumeFrom ?? TrainingProgress())
        precondition(context.progress.stepInEpoch <= sampler.batchesPerEpoch,
                     "Trainer.fit: resume position batch \(context.progress.stepInEpoch) exceeds \(sampler.batchesPerEpoch) batches per epoch")
        // A batch never holds more than the data set, whatever batchSize says; a data-parallel
        // process holds only its share (at least one row, see dataParallelStep).
        let reducer = gradientReducer
        var capacity = min(batchSize, train.count)
        if let reducer {
            precondition(reducer.shardCount >= 1 && reducer.shard >= 0 && reducer.shard < reducer.shardCount,
                         "Trainer.fit: gradient reducer shard \(reducer.shard) is not in 0..<\(reducer.shardCount)")
            capacity = max(1, (capacity + reducer.shardCount - 1) / reducer.shardCount)
        }
        let batch = reusableBatch(&trainingBatch, capacity: capacity, exampleShape: train.exampleShape)
        let clock = ContinuousClock()
        context.logs = context.progress.history.last ?? [:]
        updateRunningLogs(context)

        for c in callbacks { try c.trainBegin(context) }
        epochs: while context.progress.epoch < epochs && !context.stopRequested {
            if let maxSteps, context.progress.globalStep >= maxSteps { break }
            let epochStart = clock.now
            if context.progress.stepInEpoch == 0 {
                for c in callbacks { try c.epochBegin(context) }
            }
            while context.progress.stepInEpoch < sampler.batchesPerEpoch {
                if let maxSteps, context.progress.globalStep >= maxSteps { break epochs }
                for c in callbacks { try c.batchBegin(context) }
                let t0 = clock.now
                let indices = sampler.indices(epoch: context.progress.epoch, batch: context.progress.stepInEpoch)
                let result: StepResult
                if let reducer {
                    result = try dataParallelStep(indices, of: train, into: batch, reducer: reducer)
                } else {
                    train.gather(indices, into: batch)
                    result = trainStep(batch)
                }
                let elapsed = t0.duration(to: clock.now)
                context.progress.trainingSeconds += elapsed.seconds
                context.progress.trainingSamples += result.count
                context.progress.stepInEpoch += 1
                context.progress.globalStep += 1
                context.progress.epochLossSum += Double(result.loss) * Double(result.count)
                context.progress.epochCorrect += result.correct
                context.progress.epochSeen += result.count
                context.lastStep = result
                updateRunningLogs(context)
                if !result.loss.isFinite {
                    context.requestStop(.diverged, reason: "the loss of step \(context.progress.globalStep) "
                                        + "(epoch \(context.progress.epoch + 1), batch \(context.progress.stepInEpoch)) is \(result.loss)")
                }
                for c in callbacks { try c.batchEnd(context) }
                if context.stopRequested { break epochs }
            }
            // The epoch is complete.
            var record = context.logs
            if let validation, validation.count > 0 {
                let v = evaluate(validation, batchSize: max(batchSize, 500))
                record["val_loss"] = v.loss
                record["val_accuracy"] = v.accuracy
            }
            record["epoch"] = Double(context.progress.epoch + 1)
            record["epoch_seconds"] = epochStart.duration(to: clock.now).seconds
            context.logs = record
            context.isAtEpochEnd = true
            context.progress.history.append(record)
            for c in callbacks { try c.epochEnd(context) }
            context.progress = context.resumableProgress
            context.isAtEpochEnd = false
        }
        if let status = context.stopStatus {
            context.status = status
        } else if context.progress.epoch >= epochs {
            context.status = .completed
        } else {
            context.status = .maxSteps
        }
        for c in callbacks { try c.trainEnd(context) }
        return context
    }

    /// One data-parallel step (see ``GradientReducer``): this shard's rows of the global batch
    /// `indices`, the gradient scaled by the global batch size, the reduction, the update.
    ///
    /// A shard with no rows (a global batch smaller than the shard count) still runs a
    /// forward and backward pass on the batch's first example, so that its generator advances
    /// exactly as the others' do, then contributes zero gradients and no examples.
    /// - Returns: The global batch's mean loss and correct count.
    private func dataParallelStep(_ indices: ArraySlice<Int>, of train: Dataset, into batch: Batch,
                                  reducer: GradientReducer) throws -> StepResult {
        let rows = BatchSlice.rowRange(globalRows: indices.count, shard: reducer.shard, of: reducer.shardCount)
        let isEmpty = rows.isEmpty
        train.gather(isEmpty ? indices.prefix(1) : indices.dropFirst(rows.lowerBound).prefix(rows.count), into: batch)
        rng.batchSlice = BatchSlice(firstRow: isEmpty ? 0 : rows.lowerBound, rows: batch.count, globalRows: indices.count)
        defer { rng.batchSlice = nil }
        for p in parameters { p.zeroGradient() }
        let logits = model.forward(batch.images, training: true)
        let result = loss(logits: logits, labels: batch.labels, gradientCount: indices.count)
        _ = model.backward(result.gradient)
        var contribution = StepContribution(lossSum: result.loss * Float(batch.count), correct: result.correct, count: batch.count)
        if isEmpty {
            for p in parameters { p.zeroGradient() }
            contribution = StepContribution(lossSum: 0, correct: 0, count: 0)
        }
        try reducer.reduce(gradients: parameters, contribution: &contribution)
        optimizer.step(parameters)
        return StepResult(loss: contribution.lossSum / Float(max(contribution.count, 1)),
                          correct: contribution.correct, count: contribution.count)
    }

    private func updateRunningLogs(_ context: TrainingContext) {
        let p = context.progress
        guard p.epochSeen > 0 else { return }
        context.logs["loss"] = p.epochLossSum / Double(p.epochSeen)
        context.logs["accuracy"] = Double(p.epochCorrect) / Double(p.epochSeen)
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
