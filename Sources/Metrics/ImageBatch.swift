import Engine

/// Images as the official metrics see them: 8-bit RGB values (0...255) held as floats, planar,
/// [count][3][side][side]. Generated images are quantized exactly as saved PNGs are, so a metric
/// measures what a user would see.
public struct ImageBatch {
    public static let channels = 3
    public let count: Int
    public let side: Int
    public var values: [Float]

    public init(count: Int, side: Int, values: [Float]) {
        precondition(
            values.count == count * Self.channels * side * side,
            "ImageBatch of \(count) images at \(side)x\(side) needs \(count * Self.channels * side * side) values, "
                + "got \(values.count)"
        )
        self.count = count
        self.side = side
        self.values = values
    }

    /// Images [N, 3, R, R] in [-1, 1] (generator output, or a dataset batch).
    public init(unitRange images: Tensor) {
        let (n, channels, side, width) = images.nchw
        precondition(
            channels == Self.channels && side == width, "ImageBatch needs square RGB images, got \(images.shape)")
        let source = UnsafeBufferPointer(start: images.pointer, count: images.count)
        self.init(count: n, side: side, values: source.map { Float(quantizedPixel($0)) })
    }

    public var imageSize: Int { Self.channels * side * side }

    /// Image `index` as its own batch.
    public func image(_ index: Int) -> ImageBatch {
        ImageBatch(count: 1, side: side, values: Array(values[index * imageSize..<(index + 1) * imageSize]))
    }

    /// The images at `indices`, in that order.
    public func images(_ indices: [Int]) -> ImageBatch {
        var selected: [Float] = []
        selected.reserveCapacity(indices.count * imageSize)
        for index in indices { selected += values[index * imageSize..<(index + 1) * imageSize] }
        return ImageBatch(count: indices.count, side: side, values: selected)
    }
}

/// [-1, 1] to 0...255 as the official code converts generated images: x * 127.5 + 127.5, rounded, clipped.
public func quantizedPixel(_ value: Float) -> UInt8 {
    let scaled = (value * 127.5 + 127.5).rounded()
    return scaled.isNaN ? 0 : UInt8(min(max(scaled, 0), 255))
}
