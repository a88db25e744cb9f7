extension Checkpoint {
    /// The model's parameters of a training checkpoint as safetensors tensors, in the order
    /// of its model signature (the model's canonical order), without optimizer state; the
    /// metadata records `format`, `layout`, `global_step` and `epoch`.
    /// - Parameter metadata: Extra `__metadata__` pairs (they override the defaults).
    /// - Returns: The weights (tensors not copied).
    /// - Throws: ``WeightsError`` (``WeightsError/Code/missingTensor``) naming a parameter
    ///   of the signature that has no tensor of its shape (a reader-verified checkpoint
    ///   always has them).
    public func weights(metadata extra: [String: String] = [:]) throws -> SafeTensors {
        let byName = tensorsByName
        var tensors: [NamedTensor] = []
        for parameter in metadata.modelSignature.parameters {
            guard let tensor = byName[parameter.name], tensor.shape == parameter.shape else {
                throw WeightsError(.missingTensor, "the checkpoint has no tensor of shape \(parameter.shape) for this parameter",
                                   tensor: parameter.name)
            }
            tensors.append(NamedTensor(name: parameter.name, tensor: tensor))
        }
        var all = ["format": SafeTensors.formatName, "layout": SafeTensors.layoutDescription,
                   "global_step": "\(metadata.globalStep)"]
        if let epoch = metadata.trainingState?.progress.epoch { all["epoch"] = "\(epoch)" }
        all.merge(extra) { $1 }
        return SafeTensors(tensors: tensors, metadata: all)
    }
}
