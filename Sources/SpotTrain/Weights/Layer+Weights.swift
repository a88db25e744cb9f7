extension Layer {
    /// The model's parameters as safetensors tensors: one per parameter, named as in
    /// checkpoints (`conv1.weight`, `dense2.bias`), in canonical order, values copied, in
    /// SpotTrain's layouts (conv `[kh, kw, in, out]`, dense `[in, out]`, NHWC flatten).
    ///
    /// The metadata records `format` (``SafeTensors/formatName``), `layout`
    /// (``SafeTensors/layoutDescription``) and `model` (the layer's name), plus `metadata`.
    /// - Parameter metadata: Extra `__metadata__` pairs (they override the defaults).
    /// - Returns: The weights.
    public func weights(metadata: [String: String] = [:]) -> SafeTensors {
        var all = ["format": SafeTensors.formatName, "layout": SafeTensors.layoutDescription, "model": name]
        all.merge(metadata) { $1 }
        return SafeTensors(tensors: parameters.map { NamedTensor(name: $0.name, tensor: $0.value.copy()) }, metadata: all)
    }

    /// Saves the parameters only (no optimizer state, no training position) as a
    /// safetensors file, written durably and atomically (see ``weights(metadata:)`` for the
    /// names, layouts and metadata).
    /// - Parameters:
    ///   - path: The file to write.
    ///   - metadata: Extra `__metadata__` pairs.
    ///   - fileSystem: File operations; the real file system unless given.
    /// - Throws: ``WeightsError`` (``WeightsError/Code/io``) naming the file.
    public func saveWeights(to path: String, metadata: [String: String] = [:],
                            fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem()) throws {
        try weights(metadata: metadata).write(to: path, fileSystem: fileSystem)
    }

    /// Loads parameters saved by ``saveWeights(to:metadata:fileSystem:)`` (or any
    /// safetensors file with the same names, shapes and layouts, all `F32`).
    ///
    /// Every parameter must have a tensor of its name and shape, and every tensor a
    /// parameter; all is checked before any parameter changes, so on a throw the model is
    /// untouched. No optimizer is involved: train on with any optimizer, or predict.
    /// - Parameter path: The safetensors file.
    /// - Throws: ``WeightsError``: the decoding errors of ``SafeTensors/decode(_:path:)``,
    ///   or ``WeightsError/Code/missingTensor``, ``WeightsError/Code/unexpectedTensor``,
    ///   ``WeightsError/Code/shapeMismatch`` naming the tensor (and both shapes).
    public func loadWeights(from path: String) throws {
        try loadWeights(try SafeTensors.read(atPath: path), path: path)
    }

    /// Loads parameters from decoded weights (see ``loadWeights(from:)``).
    /// - Parameters:
    ///   - weights: The tensors; values are copied into the parameters.
    ///   - path: The file they came from, for errors.
    /// - Throws: ``WeightsError`` (``WeightsError/Code/missingTensor``,
    ///   ``WeightsError/Code/unexpectedTensor``, ``WeightsError/Code/shapeMismatch``)
    ///   naming the tensor; the model is untouched on a throw.
    public func loadWeights(_ weights: SafeTensors, path: String? = nil) throws {
        var byName: [String: Tensor] = [:]
        for t in weights.tensors {
            guard byName.updateValue(t.tensor, forKey: t.name) == nil else {
                throw WeightsError(.malformedHeader, "the name appears twice", path: path, tensor: t.name)
            }
        }
        let parameters = self.parameters
        var names = Set<String>()
        for p in parameters {
            names.insert(p.name)
            guard let t = byName[p.name] else {
                throw WeightsError(.missingTensor, "the model's parameter has no tensor in the file (shape \(p.value.shape))",
                                   path: path, tensor: p.name)
            }
            guard t.shape == p.value.shape else {
                throw WeightsError(.shapeMismatch, "the file's shape is \(t.shape), the model's parameter has \(p.value.shape)",
                                   path: path, tensor: p.name)
            }
        }
        for t in weights.tensors where !names.contains(t.name) {
            throw WeightsError(.unexpectedTensor, "the model has no parameter of this name (shape \(t.tensor.shape))",
                               path: path, tensor: t.name)
        }
        for p in parameters { p.value.assign(from: byName[p.name]!) }
    }
}
