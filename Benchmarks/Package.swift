// swift-tools-version: 6.1
//
// SpotTrain's benchmarks, with ordo-one/package-benchmark. A separate package so that its
// dependencies stay out of the builds of SpotTrain's users.
//
//   cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "SpotTrainBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SpotTrain", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Per-layer forward/backward timings of one mnist_cnn training step, and the GFLOP/s
        // they imply: `swift run -c release layer-profile [batch] [steps] [threads]`.
        .executableTarget(
            name: "layer-profile",
            dependencies: [.product(name: "SpotTrain", package: "SpotTrain")],
            path: "Sources/LayerProfile"
        ),
        // Capture + durable save of a real run's checkpoint, timed (what ModelCheckpoint does
        // per epoch): `swift run -c release checkpoint-save-timing CHECKPOINT [repeats] [threads]`.
        .executableTarget(
            name: "checkpoint-save-timing",
            dependencies: [.product(name: "SpotTrain", package: "SpotTrain")],
            path: "Sources/CheckpointSaveTiming"
        ),
        // Dense versus sparse conv2 backward over the fraction of nonzero output-gradient
        // entries: `swift run -c release sparse-crossover [repeats] [threads]`.
        .executableTarget(
            name: "sparse-crossover",
            dependencies: [.product(name: "SpotTrain", package: "SpotTrain")],
            path: "Sources/SparseCrossover"
        ),
        .executableTarget(
            name: "SpotTrainBenchmarks",
            dependencies: [
                .product(name: "SpotTrain", package: "SpotTrain"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SpotTrainBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
