import Foundation
import XCTest
@testable import Engine

/// The row-wise ops of an AC-GAN D's classifier: values against a Double reference, first and second
/// derivatives against central differences.
final class ClassificationTests: XCTestCase {
    let logits = randomTensor([3, 4], seed: 41)
    let targets = Tensor(shape: [3, 4], values: [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1])

    func testValuesMatchReference() {
        var expectedSoftmax: [Double] = [], expectedLogSumExp: [Double] = [], expectedEntropy: [Double] = []
        for row in 0..<3 {
            let values = (0..<4).map { Double(logits.pointer[row * 4 + $0]) }
            let total = values.map(Foundation.exp).reduce(0, +)
            expectedSoftmax += values.map { Foundation.exp($0) / total }
            expectedLogSumExp.append(Foundation.log(total))
            let target = (0..<4).first { targets.pointer[row * 4 + $0] == 1 }!
            expectedEntropy.append(Foundation.log(total) - values[target])
        }
        assertClose(doubles(softmax(logits)), expectedSoftmax, tolerance: 1e-6, "softmax")
        assertClose(doubles(logSumExp(logits)), expectedLogSumExp, tolerance: 1e-6, "logSumExp")
        assertClose(
            doubles(softmaxCrossEntropy(logits: logits, targets: targets)), expectedEntropy, tolerance: 1e-6,
            "cross-entropy")
    }

    /// Logits far beyond exp's float range still give finite values (the row maximum is subtracted).
    func testLargeLogitsStayFinite() {
        let large = Tensor(shape: [1, 3], values: [1000, 0, -1000])
        XCTAssertEqual(logSumExp(large).scalar, 1000, accuracy: 1e-3)
        XCTAssertEqual(softmax(large).scalars, [1, 0, 0])
    }

    func testGradients() {
        checkGradients([logits], "softmax") { softmax($0[0]) }
        checkGradients([logits], "logSumExp") { logSumExp($0[0]) }
        checkGradients([logits], "cross-entropy") { softmaxCrossEntropy(logits: $0[0], targets: targets) }
    }

    func testSecondOrder() {
        checkSecondOrder([logits], "softmax") { softmax($0[0]) }
        checkSecondOrder([logits], "logSumExp") { logSumExp($0[0]) }
        checkSecondOrder([logits], "cross-entropy") { softmaxCrossEntropy(logits: $0[0], targets: targets) }
    }
}
