// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for the readers of untrusted files, one executable each, built by scripts/fuzz.sh
// with `swift build --sanitize=fuzzer --sanitize=address`. A package of its own (as swift-protobuf's
// FuzzTesting is), so that the main package's products never link libFuzzer; it uses the main
// package's reader libraries by path.
/// A library product of the main package.
func reader(_ name: String) -> Target.Dependency { .product(name: name, package: "progan") }

let package = Package(
    name: "progan-fuzz",
    dependencies: [
        .package(name: "progan", path: "../..")
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .target(name: "ImageFuzzing", dependencies: ["FuzzSupport", reader("ImageIO")]),
        .executableTarget(name: "fuzz-png", dependencies: ["ImageFuzzing"]),
        .executableTarget(name: "fuzz-jpeg", dependencies: ["ImageFuzzing"]),
        .executableTarget(name: "fuzz-dataset", dependencies: ["FuzzSupport", reader("Dataset")]),
        .executableTarget(name: "fuzz-checkpoint", dependencies: ["FuzzSupport", reader("Training")]),
        .executableTarget(name: "fuzz-safetensors", dependencies: ["FuzzSupport", reader("Safetensors")]),
    ],
    swiftLanguageModes: [.v5]
)
