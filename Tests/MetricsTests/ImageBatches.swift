import Engine
@testable import Metrics

/// Images whose values are independent uniform bytes.
func uniformNoise(count: Int, side: Int, seed: UInt64) -> ImageBatch {
    var random = PhiloxRandom(seed: seed)
    return ImageBatch(
        count: count, side: side, values: (0..<count * 3 * side * side).map { _ in (random.uniform() * 255).rounded() })
}

/// A smooth random distribution: a reddish disc of random place (and nearly fixed size) on a bluish gradient.
func blobs(count: Int, seed: UInt64) -> ImageBatch {
    let side = 32
    var random = PhiloxRandom(seed: seed)
    var values = [Float](repeating: 0, count: count * 3 * side * side)
    for image in 0..<count {
        let centre = (random.uniform() * Float(side), random.uniform() * Float(side)), radius = 7 + random.uniform() * 2
        let disc = [200, 60, 40].map { $0 + random.uniform() * 40 }
        let background = [20, 80, 160].map { ($0 + random.uniform() * 30, random.uniform() * 2) }
        for channel in 0..<3 {
            for y in 0..<side {
                for x in 0..<side {
                    let dx = Float(x) - centre.0, dy = Float(y) - centre.1
                    let inside = dx * dx + dy * dy < radius * radius
                    let value = inside ? disc[channel] : background[channel].0 + background[channel].1 * Float(y)
                    values[((image * 3 + channel) * side + y) * side + x] = min(max(value.rounded(), 0), 255)
                }
            }
        }
    }
    return ImageBatch(count: count, side: side, values: values)
}
