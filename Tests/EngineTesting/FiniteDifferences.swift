/// Central-difference derivatives: the reference every gradient in this project is tested against.
public enum FiniteDifferences {
    public struct Comparison {
        /// ||analytic - numeric|| / max(||numeric||, 1e-3) over the compared elements.
        public let relativeError: Double
        public let compared: Int
        /// Elements left out: every step crossed a kink.
        public let skipped: Int
    }

    /// Compares `analytic[k]`, the claimed derivative of `value` with respect to `values[indices[k]]`,
    /// with a central difference. Where the forward and backward differences disagree, the step crossed
    /// a kink (leaky ReLU at zero), where differences
    /// do not define the derivative; the check then retries with steps 3 and 10 times smaller, and
    /// leaves the element out (counted in `skipped`) if those cross kinks too.
    public static func compare(
        analytic: [Double], indices: [Int], of values: UnsafeMutablePointer<Float>, step: Float,
        value: () -> Double
    ) -> Comparison {
        precondition(analytic.count == indices.count, "one analytic derivative per index")
        var difference = 0.0, norm = 0.0, compared = 0
        for (claimed, index) in zip(analytic, indices) {
            let saved = values[index]
            func evaluate(at offset: Float) -> Double {
                values[index] = saved + offset
                defer { values[index] = saved }
                return value()
            }
            let center = evaluate(at: 0)
            for h in [step, step / 3, step / 10] {
                let forward = (evaluate(at: h) - center) / Double(h), backward = (center - evaluate(at: -h)) / Double(h)
                // Rounding of a float32 evaluation moves a difference by about this much.
                let noise = 1e-6 * max(abs(center), 1) / Double(h)
                guard abs(forward - backward) <= 0.05 * (abs(forward) + abs(backward)) + 10 * noise else { continue }
                let numeric = (forward + backward) / 2
                difference += (claimed - numeric) * (claimed - numeric)
                norm += numeric * numeric
                compared += 1
                break
            }
        }
        return Comparison(
            relativeError: difference.squareRoot() / max(norm.squareRoot(), 1e-3), compared: compared,
            skipped: indices.count - compared)
    }
}
