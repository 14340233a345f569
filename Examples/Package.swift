// swift-tools-version: 6.0
// An application that uses Flint as a library: it depends on Flint the way a user's package
// does, as a versioned source-control dependency (SwiftPM refuses unsafe build flags in
// those). FLINT_PACKAGE_URL points the dependency at a repository; scripts/test-example sets
// it to a tagged local clone of this checkout. Without it, the checkout itself is a path
// dependency (for working on the example).
import Foundation
import PackageDescription

let flint: Package.Dependency = Context.environment["FLINT_PACKAGE_URL"].map { .package(url: $0, from: "0.0.1") }
    ?? .package(name: "Flint", path: "..")

let package = Package(
    name: "FlintExample",
    platforms: [.macOS(.v14)],
    dependencies: [flint],
    targets: [
        .executableTarget(name: "flint-example", dependencies: [.product(name: "FlintEngine", package: "Flint")],
                          path: "Sources/FlintExample"),
    ],
    swiftLanguageModes: [.v6]
)
