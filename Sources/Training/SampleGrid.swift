import Engine
import ImageIO
import Metrics

/// Converts images [N, 3, R, R] in [-1, 1] into one RGB grid, each image scaled up by pixel repetition
/// to `cellSize` so that grids from every resolution line up frame by frame in a time-lapse.
public func imageGrid(_ images: Tensor, columns: Int, cellSize: Int) -> RGBImage {
    let (n, channels, size, _) = images.nchw
    precondition(channels == 3, "imageGrid needs RGB images, got \(images.shape)")
    precondition(cellSize % size == 0, "cell size \(cellSize) is not a multiple of the image size \(size)")
    let rows = (n + columns - 1) / columns, factor = cellSize / size
    let width = columns * cellSize, height = rows * cellSize
    var pixels = [UInt8](repeating: 255, count: width * height * 3)
    let source = images.pointer
    for index in 0..<n {
        let left = (index % columns) * cellSize, top = (index / columns) * cellSize
        for y in 0..<cellSize {
            for x in 0..<cellSize {
                let target = ((top + y) * width + left + x) * 3
                for c in 0..<3 {
                    pixels[target + c] = quantizedPixel(
                        source[((index * 3 + c) * size + y / factor) * size + x / factor])
                }
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}
