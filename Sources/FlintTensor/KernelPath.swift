import CFlintKernels

/// The instruction-set path every CPU kernel runs on: "avx512vnni", "avxvnni", "avx2",
/// "neon" or "scalar". The best one this CPU runs is
/// chosen at start-up; the environment variable FLINT_KERNELS_ISA picks another available one.
public enum KernelPath {
    public static var current: String { String(cString: flint_kernels_isa()) }

    /// The paths this CPU can run, lowest first.
    public static var available: [String] {
        (0...).lazy.map { flint_kernels_isa_name(Int32($0)) }.prefix { $0 != nil }
            .map { String(cString: $0!) }.filter { flint_kernels_isa_available($0) != 0 }
    }
}
