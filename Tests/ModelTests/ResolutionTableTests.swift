import Foundation
import XCTest
@testable import Model

final class ResolutionTableTests: XCTestCase {
    /// ScheduleConfig with its tables keyed by strings, as config.json has always spelled them: the
    /// Int-keyed tables must give the same bytes.
    private struct StringKeyedSchedule: Codable {
        var stabilizeKimg, fadeKimg: Double
        var minibatch: [String: Int]
        var minibatchDefault: Int
        var learningRate: [String: Float]
        var learningRateDefault: Float
        @WrittenAsNull var learningRateRampdown: LearningRateRampdown?

        init(_ schedule: ScheduleConfig) {
            (stabilizeKimg, fadeKimg) = (schedule.stabilizeKimg, schedule.fadeKimg)
            minibatch = Dictionary(uniqueKeysWithValues: schedule.minibatch.map { (String($0.key), $0.value) })
            learningRate = Dictionary(uniqueKeysWithValues: schedule.learningRate.map { (String($0.key), $0.value) })
            (minibatchDefault, learningRateDefault) = (schedule.minibatchDefault, schedule.learningRateDefault)
            learningRateRampdown = schedule.learningRateRampdown
        }
    }

    /// Nested one level down, as TrainingConfig holds it, so the indentation of the pretty printing is covered.
    private struct Nested<Schedule: Encodable>: Encodable { let schedule: Schedule }

    /// The encoder and decoder settings of TrainingConfig's JSON.
    private func encoded<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value)
    }

    private func decoded(_ json: String) throws -> ScheduleConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ScheduleConfig.self, from: Data(json.utf8))
    }

    private let schedules = [
        ScheduleConfig(
            stabilizeKimg: 600, fadeKimg: 600,
            minibatch: [4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4],
            minibatchDefault: 4, learningRate: [1024: 0.0015], learningRateDefault: 0.001),
        ScheduleConfig(stabilizeKimg: 8, fadeKimg: 8, minibatchDefault: 16, learningRateDefault: 0.002),
        ScheduleConfig(
            stabilizeKimg: 0.2, fadeKimg: 0.2, minibatch: [16: 8], minibatchDefault: 8,
            learningRate: [4: 0.003, 8: 0.0025, 16: 0.002], learningRateDefault: 0.002,
            learningRateRampdown: LearningRateRampdown(startKimg: 1, endKimg: 1.2, finalFraction: 0.1)),
    ]

    func testEncodingIsThatOfStringKeyedTables() throws {
        for schedule in schedules {
            let expected = try encoded(Nested(schedule: StringKeyedSchedule(schedule)))
            XCTAssertEqual(try encoded(Nested(schedule: schedule)), expected, String(decoding: expected, as: UTF8.self))
            XCTAssertEqual(try encoded(schedule), try encoded(StringKeyedSchedule(schedule)))
        }
    }

    func testDecodingRestoresTheTables() throws {
        for schedule in schedules {
            XCTAssertEqual(try decoded(String(decoding: try encoded(schedule), as: UTF8.self)), schedule)
        }
        let fields = #""stabilize_kimg": 1, "fade_kimg": 1, "total_kimg": 4, "minibatch_default": 8"#
        let schedule = try decoded(
            #"{\#(fields), "minibatch": {"64": 32}, "learning_rate": {"8": 0.5}, "learning_rate_default": 1}"#)
        XCTAssertEqual(schedule.minibatch(at: 64), 32)
        XCTAssertEqual(schedule.minibatch(at: 32), 8)
        XCTAssertEqual(schedule.learningRate(at: 8), 0.5)
    }

    /// A key that is not a whole number written plainly fails to decode, with a message naming it.
    func testKeysThatAreNotWholeNumbersAreRejected() {
        let fields =
            #""stabilize_kimg": 1, "fade_kimg": 1, "total_kimg": 4, "minibatch_default": 8, "learning_rate_default": 1"#
        let cases = [("minibatch", "sixty-four"), ("learning_rate", "4.0"), ("minibatch", "04"), ("learning_rate", "")]
        for (table, key) in cases {
            let tables = ["minibatch", "learning_rate"].map { #""\#($0)": {\#($0 == table ? "\"\(key)\": 1" : "")}"# }
            let json = "{\(fields), \(tables.joined(separator: ", "))}"
            XCTAssertThrowsError(try decoded(json), "\(table) key '\(key)'") { error in
                guard case let DecodingError.dataCorrupted(context) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(context.debugDescription, "key '\(key)' is not a resolution")
                // The decoder reports the path by the property names the snake_case keys were converted to.
                XCTAssertEqual(
                    context.codingPath.map(\.stringValue), [table == "minibatch" ? "minibatch" : "learningRate"])
            }
        }
    }

    func testValidationNamesAKeyThatIsNotAResolution() {
        for key in [3, 2, 2048, 48, -4] {
            var schedule = schedules[1]
            schedule.learningRate = [key: 0.1]
            XCTAssertThrowsError(try schedule.validate()) {
                XCTAssertEqual(
                    "\($0)", "schedule.learning_rate key \(key) is not a resolution (a power of two from 4 to 1024)")
            }
        }
        for schedule in schedules { XCTAssertNoThrow(try schedule.validate()) }
    }
}
