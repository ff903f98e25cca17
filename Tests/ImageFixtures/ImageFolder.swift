import ImageIO
import TestSupport

extension TemporaryDirectory {
    /// Writes `images` as 0.png, 1.png, ... into the new folder `name`, the input of dataset preparation,
    /// and returns the folder's path.
    public func imageFolder(_ name: String, _ images: [RGBImage]) throws -> String {
        let folderPath = try folder(name)
        for (index, image) in images.enumerated() {
            try image.write(path: "\(folderPath)/\(index).png")
        }
        return folderPath
    }
}
