import Engine
import ImageIO
import Metrics
import Model

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

/// What a run's sample grids show. Unconditional: every grid latent, `gridColumnCount` columns. Conditional:
/// one row per class shown (all classes, or `maximumClassRows` spread evenly over them), each row the same
/// latents, so a column shows one latent across the classes.
public struct SampleGridLayout {
    public let latents: Tensor
    /// One-hot classes of the samples; nil in an unconditional run.
    public let labels: Tensor?
    public let columns: Int
    /// The class of each row of a conditional grid.
    public let rowClasses: [Int]

    /// The most class rows a grid shows; more classes are sampled evenly.
    public static let maximumClassRows = 16

    /// `gridLatents` [samples, latent]: the run's fixed grid latents.
    public init(gridLatents: Tensor, conditioning: Conditioning?) {
        let samples = gridLatents.shape[0], width = gridLatents.shape[1]
        guard let conditioning, conditioning.classes > 0 else {
            (latents, labels, columns, rowClasses) = (gridLatents, nil, gridColumnCount(samples), [])
            return
        }
        let classes = Self.rowClasses(classes: conditioning.classes, samples: samples)
        let rows = classes.count, columns = max(1, samples / rows)
        let row = Array(gridLatents.scalars.prefix(columns * width))
        latents = Tensor(shape: [rows * columns, width], values: Array(repeatElement(row, count: rows).joined()))
        labels = oneHot(classes.flatMap { Array(repeating: $0, count: columns) }, classes: conditioning.classes)
        (rowClasses, self.columns) = (classes, columns)
    }

    /// The class of each row of a conditional grid of `samples` samples.
    public static func rowClasses(classes: Int, samples: Int) -> [Int] {
        let rows = min(classes, maximumClassRows, samples)
        return (0..<rows).map { $0 * classes / rows }
    }

    /// Dataset images for the grid of reals: the first ones, or, in a conditional run, each row's
    /// class's first `columns` images (repeated when the class has fewer), from the dataset's labels.
    public func realIndices(datasetLabels: [Int]?, count: Int) -> [Int] {
        guard let datasetLabels, !rowClasses.isEmpty else { return Array(0..<min(latents.shape[0], count)) }
        return rowClasses.flatMap { label in
            let members = datasetLabels.indices.filter { datasetLabels[$0] == label }
            return members.isEmpty ? [] : (0..<columns).map { members[$0 % members.count] }
        }
    }
}
