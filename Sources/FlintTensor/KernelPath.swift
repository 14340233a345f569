import CFlintKernels

/// The instruction-set path every CPU kernel runs on: "avx512vnni", "avxvnni", "avx2",
/// "neon" or "scalar" (the opt-in "avx512bs" paths aside). The best one this CPU runs is
/// chosen at start-up; the environment variable FLINT_KERNELS_ISA picks another available one.
public enum KernelPath {
    public static var current: String { String(cString: flint_kernels_isa()) }
}
