// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for the readers of untrusted files, one executable each, built by scripts/fuzz.sh
// with `swift build --sanitize=fuzzer --sanitize=address`. A package of its own (as swift-protobuf's
// FuzzTesting is), so that the main package's products never link libFuzzer; it uses the main
// package's reader libraries by path.
let package = Package(
    name: "progan-fuzz",
    dependencies: [
        .package(name: "progan", path: "../.."),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "fuzz-png", dependencies: ["FuzzSupport", .product(name: "ImageIO", package: "progan")]),
        .executableTarget(name: "fuzz-dataset", dependencies: ["FuzzSupport", .product(name: "Dataset", package: "progan")]),
        .executableTarget(name: "fuzz-checkpoint", dependencies: ["FuzzSupport", .product(name: "Training", package: "progan")]),
        .executableTarget(
            name: "fuzz-safetensors", dependencies: ["FuzzSupport", .product(name: "Safetensors", package: "progan")]),
    ],
    swiftLanguageModes: [.v5]
)
