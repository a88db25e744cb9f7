/// SpotTrain: checkpointed neural-network training for interruptible machines.
///
/// See `Docs/` for the workflows and `SpotTrain.docc` for the API overview.
public enum SpotTrainLibrary {
    /// The library version, written into every checkpoint.
    public static let version = "0.1.0"
}
