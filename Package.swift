// swift-tools-version:6.0
import PackageDescription

// Layering (imports only point down):
//   progan CLI, mpi-check
//   Distributed (MPI communicator) · ImageIO (PNG) · Engine (tensors, autograd, conv, Adam, RNG)
//   SafeIO (atomic writes, CRC32)
//   MPIShim, PNGShim (C) over CMPI, CPNG, CBLAS (system libraries)
let package = Package(
    name: "progan",
    products: [
        .executable(name: "progan", targets: ["progan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "MPIShim", dependencies: ["CMPI"]),
        .target(name: "PNGShim", dependencies: ["CPNG"]),

        .target(name: "SafeIO"),
        .target(name: "Engine", dependencies: ["CBLAS"]),
        .target(name: "ImageIO", dependencies: ["PNGShim", "SafeIO"]),
        .target(name: "Distributed", dependencies: ["MPIShim"]),

        .executableTarget(
            name: "progan",
            dependencies: [
                "Engine", "ImageIO", "Distributed", "SafeIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Collective-operation checks run under `mpirun -np 2` by scripts/test.sh.
        .executableTarget(name: "mpi-check", dependencies: ["Distributed"]),

        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO", "SafeIO"]),
    ],
    swiftLanguageModes: [.v5]
)
