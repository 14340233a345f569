import ArgumentParser
import FlintTensor

struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the CPU kernel path in use (FLINT_KERNELS_ISA selects another available one).")

    func run() {
        print("current: \(KernelPath.current)")
        print("available: \(KernelPath.available.joined(separator: " "))")
    }
}
