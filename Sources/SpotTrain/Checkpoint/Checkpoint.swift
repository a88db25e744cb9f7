/// A tensor with the name it is stored under in a checkpoint.
///
/// Names are opaque to the checkpoint layer: model parameters use names such as
/// `conv1.weight`, optimizer state names such as `optimizer.adam.conv1.weight.m`.
public struct NamedTensor {
    /// The unique name within its checkpoint (1 to 65,535 UTF-8 bytes).
    public var name: String
    /// The values (any shape of rank at most 32).
    public var tensor: Tensor

    /// Creates a named tensor.
    /// - Parameters:
    ///   - name: The name.
    ///   - tensor: The values; not copied.
    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// The content of one checkpoint file: training metadata and an ordered list of tensors.
///
/// Write it with ``CheckpointWriter`` (or ``CheckpointDirectory/save(_:)``), read it with
/// ``CheckpointReader``.
public struct Checkpoint {
    /// The training state and model signature.
    public var metadata: CheckpointMetadata
    /// The tensors, in file order; names are unique.
    public var tensors: [NamedTensor]

    /// Creates a checkpoint.
    /// - Parameters:
    ///   - metadata: The training state and model signature.
    ///   - tensors: The tensors to store; names must be unique.
    public init(metadata: CheckpointMetadata, tensors: [NamedTensor]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// The tensor stored under `name`, or `nil`.
    /// - Parameter name: The tensor's name.
    /// - Returns: The tensor (not copied).
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }

    /// The tensors by name.
    public var tensorsByName: [String: Tensor] {
        var result: [String: Tensor] = [:]
        for t in tensors { result[t.name] = t.tensor }
        return result
    }
}
