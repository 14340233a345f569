// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Flint",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flint", targets: ["flint"]),
        .library(name: "FlintEngine", targets: ["FlintEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
    ],
    targets: [
        .target(name: "CFlintKernels"),
        .target(name: "FlintTensor", dependencies: ["CFlintKernels"]),
        .target(name: "FlintJinja"),
        .target(name: "FlintTokenizers", dependencies: ["FlintJinja"]),
        .target(name: "FlintGrammar", dependencies: ["FlintTokenizers", "FlintJinja"]),
        .target(name: "FlintLoading", dependencies: [
            "CFlintKernels", "FlintTensor", "FlintTokenizers", "ZIPFoundation", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "FlintModels", dependencies: ["CFlintKernels", "FlintLoading", "FlintTensor"]),
        .target(name: "FlintEngine", dependencies: [
            "CFlintKernels", "FlintModels", "FlintTensor", "FlintTokenizers", "FlintJinja", "FlintLoading", "FlintGrammar",
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "FlintServer", dependencies: [
            "FlintEngine", "FlintTokenizers", "FlintJinja", "FlintGrammar",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "MultipartKit", package: "multipart-kit"),
        ]),
        .executableTarget(name: "flint", dependencies: [
            "FlintServer", "FlintEngine", "FlintGrammar", "FlintLoading", "FlintModels", "FlintTensor", "FlintTokenizers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // Shared by the test targets: reference vectors, model lookup, a single-sequence runner,
        // a fake model with its own small tokenizer.
        .target(name: "FlintTestSupport", dependencies: ["FlintLoading", "FlintModels", "FlintEngine", "FlintTokenizers"], path: "Tests/Support"),
        .target(name: "CAllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "KernelTests", dependencies: ["CFlintKernels", "FlintTensor", "FlintTestSupport"]),
        .testTarget(name: "FlintJinjaTests", dependencies: ["FlintJinja", "FlintTokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "FlintTokenizersTests", dependencies: ["FlintTokenizers", "FlintLoading", "FlintTestSupport"]),
        .testTarget(name: "FlintGrammarTests", dependencies: ["FlintGrammar", "FlintJinja", "FlintTokenizers", "FlintLoading", "FlintTestSupport"]),
        .testTarget(name: "FlintLoadingTests", dependencies: ["FlintLoading", "FlintTensor", "FlintTestSupport"]),
        .testTarget(name: "FlintLoRATests", dependencies: ["FlintLoading", "FlintTestSupport"]),
        .testTarget(name: "FlintModelsTests", dependencies: [
            "FlintModels", "FlintLoading", "FlintEngine", "FlintTensor", "FlintTokenizers", "FlintTestSupport", "CAllocationCounter",
        ]),
        .testTarget(name: "FlintEngineTests", dependencies: [
            "FlintEngine", "FlintGrammar", "FlintJinja", "FlintLoading", "FlintModels", "FlintTokenizers", "FlintTestSupport",
        ]),
        .testTarget(name: "FlintServerTests", dependencies: [
            "FlintServer", "FlintEngine", "FlintJinja", "FlintTokenizers", "FlintTestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
