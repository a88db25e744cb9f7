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
