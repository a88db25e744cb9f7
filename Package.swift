// swift-tools-version: 6.1
//
// SpotTrain: checkpointed neural-network training for interruptible (EC2 spot) machines.
//
// Products
// - `SpotTrain`: tensors, BLAS-backed layers, optimizers, training loop, crash-safe checkpoints.
// - `EC2Spot`: a small EC2 Query-API client (SigV4), EBS volume control and an IMDSv2
//   spot-interruption watcher, on swift-server/async-http-client (one HTTP stack for the AWS
//   endpoints and IMDS). Independent of `SpotTrain`.
// - `SpotTrainS3`: the S3 checkpoint store (`S3CheckpointStore`), joining `SpotTrain`'s
//   `CheckpointStore` protocol to `EC2Spot`'s S3 client, so that neither library needs the other.
// - `spottrain`: the command-line tool that joins both.
// - `SpotTrainMPI` and `spottrain-mpi`: data-parallel training over MPI (Open MPI, Debian:
//   `libopenmpi-dev`, `openmpi-bin`). Nothing else depends on them, so `SpotTrain`, `spottrain`
//   and their users build without MPI (`swift build --product spottrain`).
//
// C libraries come from the system (Debian: `libopenblas-dev`, `zlib1g-dev`) through
// `systemLibrary` targets found with pkg-config. No `unsafeFlags`: this package must stay
// usable as a dependency.
import PackageDescription

let package = Package(
    name: "SpotTrain",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SpotTrain", targets: ["SpotTrain"]),
        .library(name: "EC2Spot", targets: ["EC2Spot"]),
        .library(name: "SpotTrainS3", targets: ["SpotTrainS3"]),
        .executable(name: "spottrain", targets: ["spottrain"]),
        .library(name: "SpotTrainMPI", targets: ["SpotTrainMPI"]),
        .executable(name: "spottrain-mpi", targets: ["spottrain-mpi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // MARK: - System libraries

        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]
        ),

        // MARK: - Libraries

        // Hand-vectorised kernels (AVX2+FMA chosen at run time, portable C otherwise).
        .target(name: "CSpotKernels"),
        .target(
            name: "SpotTrain",
            dependencies: [
                "COpenBLAS", "CZlib", "CSpotKernels",
                .product(name: "Logging", package: "swift-log"),
                // SHA-256 of the weights (`Layer.weightsSHA256()`).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "EC2Spot",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // The S3 checkpoint store: the only library that sees both of the others.
        .target(
            name: "SpotTrainS3",
            dependencies: ["SpotTrain", "EC2Spot"]
        ),

        // Data-parallel training over MPI: the only library that links MPI.
        .target(
            name: "SpotTrainMPI",
            dependencies: ["SpotTrain", "CMPI"]
        ),

        // MARK: - Command-line tool

        // The commands of `spottrain` (and the `train` session `spottrain-mpi` shares), as a
        // library so that both executables drive the same code. Not a product: `package` access.
        .target(
            name: "SpotTrainCLI",
            dependencies: [
                "SpotTrain",
                "EC2Spot",
                "SpotTrainS3",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "spottrain",
            dependencies: ["SpotTrainCLI"]
        ),

        // `spottrain` for `mpirun`: every rank runs it.
        .executableTarget(
            name: "spottrain-mpi",
            dependencies: [
                "SpotTrain",
                "SpotTrainMPI",
                "SpotTrainCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests

        .testTarget(
            name: "SpotTrainTests",
            dependencies: [
                "SpotTrain", "CSpotKernels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            // Reference values the tests read through #filePath (not bundle resources).
            exclude: ["Optimizers/Fixtures", "Checkpoint/Fixtures"]
        ),
        .testTarget(
            name: "EC2SpotTests",
            dependencies: ["EC2Spot"],
            // Known-answer vectors the tests read through #filePath (not bundle resources).
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "SpotTrainS3Tests",
            dependencies: ["SpotTrainS3", "SpotTrain", "EC2Spot"]
        ),
        // Runs the built `spottrain-mpi` under `mpirun`; links no MPI itself.
        .testTarget(
            name: "SpotTrainMPITests",
            dependencies: ["SpotTrain"]
        ),
        .testTarget(
            name: "spottrainTests",
            // The CLI is tested as a built binary; "SpotTrainCLI" is imported (@testable) only
            // for the pure rules of `job run` (JobLifecycleTests, JobTrainArgumentsTests).
            dependencies: ["SpotTrain", "SpotTrainCLI", "spottrain"]
        ),
    ]
)
