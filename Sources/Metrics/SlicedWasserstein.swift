import Engine
import Foundation

/// The paper's sliced Wasserstein distance between two image sets (Karras et al. 2018, section 5; the
/// official metrics/sliced_wasserstein.py): from every image and every level of its Laplacian pyramid
/// down to 16x16, 128 random 7x7 RGB neighbourhoods; each set's descriptors normalized per colour
/// channel; then the mean distance between the sorted projections of both sets on 4 x 128 random unit
/// directions, times 1000.
///
/// Two choices of ours: a neighbourhood's position is drawn from a stream keyed by the image's content,
/// so a set's descriptors do not depend on the order of its images or on how they were split across
/// ranks; and all draws come from `seed`, so a result is reproducible.
public struct SlicedWasserstein {
    public static let patchSide = 7
    public static let patchesPerImage = 128
    public static let directionRepeats = 4
    public static let directionsPerRepeat = 128
    public static let smallestLevel = 16
    public static let descriptorLength = ImageBatch.channels * patchSide * patchSide

    /// Pyramid levels by side, full resolution first: R, R/2, ..., 16.
    public let levels: [Int]
    public let seed: UInt64

    public init(resolution: Int, seed: UInt64) {
        precondition(
            resolution >= Self.smallestLevel, "SWD needs images of at least \(Self.smallestLevel)x\(Self.smallestLevel)"
        )
        levels = Array(sequence(first: resolution) { $0 / 2 }.prefix { $0 >= Self.smallestLevel })
        self.seed = seed
    }

    /// Raw descriptors of every image, one array per level (descriptorLength floats each, in
    /// channel, row, column order). Descriptors of a set may be built batch by batch and concatenated.
    public func descriptors(of images: ImageBatch) -> [[Float]] {
        precondition(
            images.side == levels[0],
            "SWD set up for \(levels[0])x\(levels[0]) got \(images.side)x\(images.side) images")
        let pyramid = laplacianPyramid(images, levels: levels.count)
        let radius = Self.patchSide / 2, length = Self.descriptorLength
        var result = levels.map { _ in [Float](repeating: 0, count: images.count * Self.patchesPerImage * length) }
        for image in 0..<images.count {
            let key = contentKey(images, image)
            for (level, planes) in pyramid.enumerated() {
                let side = planes.side, planeSize = side * side
                var random = PhiloxRandom(seed: seed).substream(key &+ UInt64(level))
                planes.values.withUnsafeBufferPointer { source in
                    result[level].withUnsafeMutableBufferPointer { target in
                        for patch in 0..<Self.patchesPerImage {
                            let centreX = radius + random.integer(below: side - 2 * radius)
                            let centreY = radius + random.integer(below: side - 2 * radius)
                            var out = target.baseAddress! + (image * Self.patchesPerImage + patch) * length
                            for channel in 0..<ImageBatch.channels {
                                let plane = source.baseAddress! + (image * ImageBatch.channels + channel) * planeSize
                                for y in centreY - radius...centreY + radius {
                                    out.update(from: plane + y * side + centreX - radius, count: Self.patchSide)
                                    out += Self.patchSide
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Per-level distances (x 1e3) between two sets of raw descriptors with the same number of images.
    public func distances(_ first: [[Float]], _ second: [[Float]]) -> [Double] {
        precondition(
            first.count == levels.count && second.count == levels.count, "one descriptor array per level expected")
        return levels.indices.map { level in
            precondition(
                first[level].count == second[level].count,
                "SWD compares sets of equal size, got \(first[level].count) and \(second[level].count) "
                    + "descriptor values"
            )
            return 1e3
                * slicedWasserstein(
                    normalizedDescriptors(first[level]), normalizedDescriptors(second[level]),
                    directions: PhiloxRandom(seed: seed).substream(0x5357_4400 + UInt64(level)))
        }
    }

    /// FNV-1a of the image's values: the key of its neighbourhood positions.
    private func contentKey(_ images: ImageBatch, _ index: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in images.values[index * images.imageSize..<(index + 1) * images.imageSize] {
            hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3
        }
        return hash
    }
}

/// Each colour channel shifted to mean 0 and scaled to standard deviation 1 over all descriptors and
/// positions. A channel that is constant over the whole set is only centred.
public func normalizedDescriptors(_ raw: [Float]) -> [Float] {
    let positions = SlicedWasserstein.patchSide * SlicedWasserstein.patchSide
    let length = SlicedWasserstein.descriptorLength, count = raw.count / length
    var result = raw
    for channel in 0..<ImageBatch.channels {
        var sum = 0.0, sumOfSquares = 0.0
        for descriptor in 0..<count {
            for value in raw[
                descriptor * length + channel * positions..<descriptor * length + (channel + 1) * positions]
            {
                sum += Double(value)
                sumOfSquares += Double(value) * Double(value)
            }
        }
        let n = Double(count * positions), mean = sum / n
        let deviation = max(sumOfSquares / n - mean * mean, 0).squareRoot()
        let scale = deviation > 0 ? 1 / deviation : 1
        for descriptor in 0..<count {
            for index in descriptor * length + channel * positions..<descriptor * length + (channel + 1) * positions {
                result[index] = Float((Double(raw[index]) - mean) * scale)
            }
        }
    }
    return result
}

/// Mean |sorted projection of A - sorted projection of B| over the descriptors, the directions of a
/// repeat and the repeats. Directions are sorted and compared on the engine's threads, one direction at a
/// time each; every direction's sum is its own and they are added in direction order, so the result does
/// not depend on the number of threads.
func slicedWasserstein(_ first: [Float], _ second: [Float], directions random: PhiloxRandom) -> Double {
    let length = SlicedWasserstein.descriptorLength, count = first.count / length
    let directionCount = SlicedWasserstein.directionsPerRepeat
    var random = random, total = 0.0
    var directions = [Float](repeating: 0, count: length * directionCount)
    var firstProjections = [Float](repeating: 0, count: directionCount * count)
    var secondProjections = firstProjections
    var directionSums = [Double](repeating: 0, count: directionCount)
    // projections[d][i] = <direction d, descriptor i>, sorted over i: each direction's projections are
    // contiguous for sorting.
    func project(_ descriptors: [Float], into projections: inout [Float]) {
        descriptors.withUnsafeBufferPointer { a in
            directions.withUnsafeBufferPointer { d in
                projections.withUnsafeMutableBufferPointer { p in
                    gemm(
                        transposeA: true, transposeB: true, m: directionCount, n: count, k: length,
                        a: d.baseAddress!, lda: directionCount, b: a.baseAddress!, ldb: length,
                        c: p.baseAddress!, ldc: count, accumulate: false)
                }
            }
        }
    }
    for _ in 0..<SlicedWasserstein.directionRepeats {
        directions.withUnsafeMutableBufferPointer { random.fillNormal($0) }
        for column in 0..<directionCount {
            let norm = stride(from: column, to: directions.count, by: directionCount)
                .reduce(0.0) { $0 + Double(directions[$1]) * Double(directions[$1]) }.squareRoot()
            for index in stride(from: column, to: directions.count, by: directionCount) {
                directions[index] = Float(Double(directions[index]) / norm)
            }
        }
        project(first, into: &firstProjections)
        project(second, into: &secondProjections)
        firstProjections.withUnsafeMutableBufferPointer { a in
            secondProjections.withUnsafeMutableBufferPointer { b in
                directionSums.withUnsafeMutableBufferPointer { sums in
                    parallelRanges(directionCount, grain: 1) { directions in
                        let direction = directions.lowerBound, row = direction * count..<(direction + 1) * count
                        let rowA = UnsafeMutableBufferPointer(rebasing: a[row])
                        let rowB = UnsafeMutableBufferPointer(rebasing: b[row])
                        radixSort(rowA)
                        radixSort(rowB)
                        var sum = 0.0
                        for index in 0..<count { sum += Double(abs(rowA[index] - rowB[index])) }
                        sums[direction] = sum
                    }
                }
            }
        }
        total += directionSums.reduce(0, +) / Double(directionCount * count)
    }
    return total / Double(SlicedWasserstein.directionRepeats)
}

/// Sorts `values` ascending, as `sort()` does but without its comparisons: a least-significant-digit
/// radix sort of the floats' bits, mapped to unsigned integers in the same order, in three passes of 11
/// bits; about 7x faster on the 262,144 projections of a direction, which SWD sorts 2,048 times per set
/// pair at 32x32. Negative zero comes before zero (the comparisons leave the two, equal, in any order);
/// NaN, which projections never are, would not sort as `sort()` puts it.
func radixSort(_ values: UnsafeMutableBufferPointer<Float>) {
    let count = values.count, digitBits = 11, digits = 1 << digitBits
    guard count > 1 else { return }
    let keys = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * count)
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: digits)
    defer {
        keys.deallocate()
        counts.deallocate()
    }
    // Positive floats order as their bits with the sign set; negative ones as their bits inverted.
    var source = keys, target = keys + count
    for i in 0..<count {
        let bits = values[i].bitPattern
        source[i] = bits & 0x8000_0000 == 0 ? bits | 0x8000_0000 : ~bits
    }
    for shift in stride(from: 0, to: 32, by: digitBits) {
        counts.initialize(repeating: 0, count: digits)
        for i in 0..<count { counts[Int(source[i] &>> shift) & (digits - 1)] += 1 }
        var offset = 0
        for digit in 0..<digits { (counts[digit], offset) = (offset, offset + counts[digit]) }
        for i in 0..<count {
            let digit = Int(source[i] &>> shift) & (digits - 1)
            target[counts[digit]] = source[i]
            counts[digit] += 1
        }
        swap(&source, &target)
    }
    for i in 0..<count {
        let key = source[i]
        values[i] = Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }
}
