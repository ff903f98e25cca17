// swift-tools-version:6.0
import PackageDescription

// Layering (imports only point down):
//   progan CLI, mpi-check
//   TrainingOptions (the command-line flags that build a configuration: presets, config file, flag table)
//   Reports (HTML report, time-lapse animations) · Interop (networks of a checkpoint as safetensors and back)
//   Training (losses, EMA, checkpoints, trainer loop, sample grids, FID/KID over ranks)
//   Model (layers, G, D, schedule) · Dataset (prepared image sets) · Metrics (SWD, MS-SSIM, Inception, FID, KID)
//   Distributed (MPI communicator) · ImageIO (PNG, JPEG) · Engine (tensors, autograd, conv, Adam, RNG)
//   Safetensors · CheckpointFile (the two file formats' containers)
//   SafeIO (atomic writes, CRC32, bounds-checked byte reader, overflow-checked element count, directory lock,
//     output-path check, scratch directories removed at exit)
//   MPIShim, PNGShim, JPEGShim, CRC32CShim, BLASShim, StopSignal (C) over CMPI, CPNG, CTurboJPEG, CBLAS
//     (system libraries)
// Tests/<X>Tests test target X (CLITests: progan; Safetensors' are in InteropTests), over test-only helpers:
//   ImageFixtures (pattern images, image folders) over TestSupport (temporary directories, error assertions)
//   EngineTesting (naive Double kernels and central differences, the yardsticks of Engine's maths)
let package = Package(
    name: "progan",
    products: [
        .executable(name: "progan", targets: ["progan"]),
        // The readers of untrusted files and input, for the fuzzing package in Tests/Fuzz.
        .library(name: "ImageIO", targets: ["ImageIO"]),
        .library(name: "Dataset", targets: ["Dataset"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Safetensors", targets: ["Safetensors"]),
        // The train command's settings (flags and --config), for the fuzzing package's flags target.
        .library(name: "TrainingOptions", targets: ["TrainingOptions"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "MPIShim", dependencies: ["CMPI"]),
        .systemLibrary(
            name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .target(name: "PNGShim", dependencies: ["CPNG"]),
        .target(name: "JPEGShim", dependencies: ["CTurboJPEG"]),
        .target(name: "CRC32CShim"),
        .target(name: "BLASShim", dependencies: ["CBLAS"]),
        .target(name: "StopSignal"),

        .target(name: "SafeIO"),
        .target(name: "Engine", dependencies: ["CBLAS", "BLASShim"], exclude: ["README.md"]),
        .target(name: "ImageIO", dependencies: ["PNGShim", "JPEGShim", "SafeIO"]),
        .target(name: "Distributed", dependencies: ["MPIShim"]),
        .target(name: "Dataset", dependencies: ["ImageIO", "SafeIO", "Engine", "CRC32CShim"]),
        .target(name: "Model", dependencies: ["Engine"]),
        // Optimized in debug builds too: the metrics sort millions of projections, which unspecialized
        // generic code does 30x slower, and the unit tests run them on realistic sizes.
        .target(
            name: "Metrics", dependencies: ["Engine", "CBLAS", "SafeIO", "Safetensors"],
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(
            name: "Training",
            dependencies: [
                "Model", "Engine", "Dataset", "Metrics", "Distributed", "ImageIO", "SafeIO", "CheckpointFile",
                "Safetensors",
            ],
            exclude: ["README.md"]),
        .target(name: "Reports", dependencies: ["Training", "Model", "ImageIO", "SafeIO"]),
        .target(name: "Safetensors", dependencies: ["SafeIO"]),
        .target(name: "CheckpointFile", dependencies: ["SafeIO"]),
        .target(name: "Interop", dependencies: ["Safetensors", "Training", "Model", "Engine"]),
        .target(
            name: "TrainingOptions",
            dependencies: ["Training", "Model", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .executableTarget(
            name: "progan",
            dependencies: [
                "Engine", "Model", "Training", "Reports", "Dataset", "Metrics", "ImageIO", "Distributed", "SafeIO",
                "StopSignal",
                "Safetensors", "Interop", "CheckpointFile", "TrainingOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Collective-operation checks run under `mpirun -np 2` by scripts/test.sh.
        .executableTarget(name: "mpi-check", dependencies: ["Distributed"]),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "ImageFixtures", dependencies: ["ImageIO", "TestSupport"], path: "Tests/ImageFixtures"),
        .target(name: "EngineTesting", path: "Tests/EngineTesting"),

        .testTarget(name: "SafeIOTests", dependencies: ["SafeIO", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "EngineTesting"]),
        .testTarget(
            name: "ImageIOTests", dependencies: ["ImageIO", "SafeIO", "CTurboJPEG", "ImageFixtures", "TestSupport"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(
            name: "DatasetTests",
            dependencies: ["Dataset", "ImageIO", "SafeIO", "Engine", "ImageFixtures", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Engine", "EngineTesting"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Engine"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "Training", "Model", "Engine", "EngineTesting", "Dataset", "ImageIO", "SafeIO", "CheckpointFile",
            ]),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "Training", "ImageIO", "SafeIO", "ImageFixtures", "TestSupport"]),
        .testTarget(name: "CheckpointFileTests", dependencies: ["CheckpointFile", "SafeIO", "TestSupport"]),
        .testTarget(
            name: "InteropTests",
            dependencies: ["Interop", "Safetensors", "Training", "Model", "Engine", "TestSupport"]),
        .testTarget(
            name: "TrainingOptionsTests",
            dependencies: [
                "TrainingOptions", "Training", "Model",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "CLITests", dependencies: ["progan"]),
    ],
    swiftLanguageModes: [.v5]
)
