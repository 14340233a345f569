/// How long a forward pass of a number of decode rows takes on this machine: measured when
/// the engine starts (`LLMEngine.warmUp`), at a few row counts, and interpolated
/// linearly between them (extrapolated with the last slope). A pass reads every weight
/// once whatever its rows, so the first rows are nearly free on a memory-bound CPU and
/// later ones cost their arithmetic; where that turns is what speculation needs to know.
public struct StepCost: Sendable {
    /// (rows, seconds), rows ascending, seconds non-decreasing.
    public private(set) var points: [(rows: Int, seconds: Double)]

    /// Row counts the engine measures, up to the step's row limit.
    static let measuredRows = [1, 2, 4, 8, 16, 32]

    /// From measured (rows, seconds) pairs; a later point never costs less than an earlier
    /// one (timer noise on tiny models must not make rows look free or negative).
    public init(_ measured: [(rows: Int, seconds: Double)]) {
        precondition(!measured.isEmpty)
        points = []
        for m in measured.sorted(by: { $0.rows < $1.rows }) {
            points.append((m.rows, max(m.seconds, points.last?.seconds ?? 0)))
        }
    }

    /// A cost that grows by `perRow` for each row after a pass of one row costing `base`
    /// (tests, where a fake model's timings mean nothing).
    public static func linear(base: Double, perRow: Double) -> StepCost {
        StepCost([(1, base), (2, base + perRow)])
    }

    public func seconds(rows: Int) -> Double {
        let first = points[0]
        if points.count == 1 { return first.seconds * Double(max(rows, 1)) / Double(first.rows) }
        var i = 1
        while i < points.count - 1 && points[i].rows < rows { i += 1 }
        let (a, b) = (points[i - 1], points[i])
        let slope = (b.seconds - a.seconds) / Double(b.rows - a.rows)
        return max(first.seconds, a.seconds + slope * Double(rows - a.rows))
    }
}
