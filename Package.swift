// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "autopeft",
    products: [
        .executable(name: "autopeft", targets: ["autopeft"]),
        .library(name: "Trainer", targets: ["Trainer"]),
        .library(name: "Space", targets: ["Space"]),
        .library(name: "JSONKit", targets: ["JSONKit"]),
    ],
    targets: [
        // System libraries: OpenBLAS (CBLAS interface) and LAPACKE, from Debian's -dev packages.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CLAPACK", path: "Sources/CLAPACK"),
        // JSON values, the parser, the path-aware reader and its input-error type; the shared hash and generator.
        .target(name: "JSONKit", path: "Sources/JSONKit"),
        // Space's canonical forms and encodings run in every proposal's inner loop: optimised in debug too.
        .target(name: "Space", dependencies: ["JSONKit"], path: "Sources/Space",
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(
            name: "Search", dependencies: ["JSONKit", "Space", "CLAPACK"], path: "Sources/Search",
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .target(
            name: "Trainer",
            dependencies: ["JSONKit", "Space", "CBLAS", "CLAPACK"],
            path: "Sources/Trainer",
            // The kernels are SIMD and pointer loops: unoptimised they run 30-100x slower, which
            // would make the debug test suite crawl, so the trainer is optimised in debug builds too.
            swiftSettings: [
                .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
                .unsafeFlags(["-O"], .when(configuration: .debug)),
            ]
        ),
        // Between the search and the trainer: evaluators (in-process, worker processes) and what they share.
        .target(name: "Runner", dependencies: ["JSONKit", "Search", "Trainer", "Space"], path: "Sources/Runner"),
        .executableTarget(name: "autopeft", dependencies: ["JSONKit", "Trainer", "Space", "Search", "Runner"], path: "Sources/autopeft"),
        .executableTarget(name: "bench-trainer", dependencies: ["JSONKit", "Trainer", "Space"], path: "bench/trainer", exclude: ["run"]),
        .executableTarget(name: "bench-search", dependencies: ["JSONKit", "Search", "Space"], path: "bench/search", exclude: ["run", "summarize.py", "workers"]),
        // Whole studies arm against arm over seeds: bench/sweeps/run prints the tables, the suite runs them at fewer seeds.
        .target(name: "SearchArms", dependencies: ["JSONKit", "Space", "Search"], path: "bench/sweeps/arms"),
        .executableTarget(name: "bench-sweeps", dependencies: ["Search", "SearchArms"], path: "bench/sweeps/cli"),
        // What tests share: the repository's model and data, skipped or (in CI) failed when missing.
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "JSONKitTests", dependencies: ["JSONKit"], path: "Tests/JSONKitTests"),
        .testTarget(name: "SpaceTests", dependencies: ["JSONKit", "Space"], path: "Tests/SpaceTests"),
        .testTarget(name: "SearchTests", dependencies: ["JSONKit", "Search", "SearchArms", "TestSupport"], path: "Tests/SearchTests", exclude: ["Fixtures"]),
        // Depends on the executable so that `swift test` builds the binary these tests run.
        .testTarget(name: "CLITests", dependencies: ["autopeft", "JSONKit", "Trainer", "Search", "Runner", "TestSupport"], path: "Tests/CLITests", exclude: ["Fixtures"]),
        // Seeded mutations of every input autopeft reads: a bounded run in the suite, longer with FUZZ_CASES.
        .testTarget(name: "FuzzTests", dependencies: ["JSONKit", "Space", "Search", "Trainer", "TestSupport"], path: "Tests/FuzzTests"),
        .testTarget(
            name: "TrainerTests",
            dependencies: ["JSONKit", "Trainer", "Space", "TestSupport"],
            path: "Tests/TrainerTests",
            resources: [.copy("Fixtures")]
        ),
    ]
)
