import Foundation
import XCTest
@testable import Engine

final class AdamTests: XCTestCase {
    /// Two steps computed by hand from the update rule with bias correction.
    func testStepsMatchHandComputation() {
        let adam = Adam(count: 2, beta1: 0.5, beta2: 0.9, epsilon: 1e-8)
        var parameters: [Float] = [1, -1]
        let gradientsPerStep: [[Float]] = [[0.5, -2], [1, 0]]
        var expected: [Double] = [1, -1], m: [Double] = [0, 0], v: [Double] = [0, 0]
        for (t, gradients) in gradientsPerStep.enumerated() {
            parameters.withUnsafeMutableBufferPointer { p in
                adam.update(parameters: p.baseAddress!, gradients: gradients, count: 2, learningRate: 0.1)
            }
            for i in 0..<2 {
                let g = Double(gradients[i])
                m[i] = 0.5 * m[i] + 0.5 * g
                v[i] = 0.9 * v[i] + 0.1 * g * g
                let mHat = m[i] / (1 - pow(0.5, Double(t + 1))), vHat = v[i] / (1 - pow(0.9, Double(t + 1)))
                expected[i] -= 0.1 * mHat / (vHat.squareRoot() + 1e-8)
            }
            for i in 0..<2 {
                XCTAssertEqual(Double(parameters[i]), expected[i], accuracy: 1e-6, "step \(t + 1), parameter \(i)")
            }
        }
        // First step of Adam moves every parameter by about the learning rate, against its gradient's sign.
        XCTAssertEqual(adam.step, 2)
        adam.reset()
        XCTAssertEqual(adam.step, 0)
        XCTAssertEqual(adam.firstMoment.pointer[0], 0)
    }

    func testUpdatesOnlyTheActivePrefix() {
        let adam = Adam(count: 3)
        var parameters: [Float] = [1, 1, 1]
        parameters.withUnsafeMutableBufferPointer { p in
            adam.update(parameters: p.baseAddress!, gradients: [1, 1, 1], count: 2, learningRate: 0.01)
        }
        XCTAssertEqual(parameters[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(parameters[2], 1)
    }
}
