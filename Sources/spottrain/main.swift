// `spottrain`: the commands live in the SpotTrainCLI target, shared with `spottrain-mpi`.
import SpotTrainCLI

await SpotTrainCommand.start()
