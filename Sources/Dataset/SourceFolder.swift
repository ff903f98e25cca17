import Foundation
import ImageIO

/// An image file under a dataset's folder.
struct SourceFile {
    /// Path components joined by "/", as the file system holds them (not necessarily UTF-8).
    let relativePath: [UInt8]

    var displayPath: String { String(decoding: relativePath, as: UTF8.self) }

    /// The first path component when the file lies in a subfolder.
    var topFolder: String? {
        relativePath.firstIndex(of: UInt8(ascii: "/")).map { String(decoding: relativePath[..<$0], as: UTF8.self) }
    }

    func fileSystemPath(in folder: [UInt8]) -> [CChar] {
        (folder + [UInt8(ascii: "/")] + relativePath + [0]).map { CChar(bitPattern: $0) }
    }
}

/// The image files of a folder and its subfolders, as StyleGAN2-ADA's dataset_tool.py finds them
/// (os.walk without following symbolic links to folders; links to files are read), sorted by the bytes of
/// their relative paths so that every machine builds the same dataset whatever its locale or file system.
struct FolderListing {
    static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    let folder: String
    private(set) var files: [SourceFile] = []
    /// Entries named like images that are not regular files (FIFOs, sockets, devices), found by `stat`
    /// without opening them.
    private(set) var skipped: [SkippedImage] = []

    init(folder: String) throws(DatasetError) {
        self.folder = folder
        var status = stat()
        guard stat(folder, &status) == 0 else {
            if errno == ENOENT { throw .noSuchDirectory(folder: folder) }
            throw .notADirectory(folder: folder)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(folder: folder) }
        walk(relative: [])
        files.sort { $0.relativePath.lexicographicallyPrecedes($1.relativePath) }
        skipped.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
    }

    private mutating func walk(relative: [UInt8]) {
        let path = Array(folder.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
        let cPath = (path + [0]).map { CChar(bitPattern: $0) }
        guard let directory = opendir(cPath) else {
            // An unreadable subfolder loses only its own files, and says so.
            let display = String(decoding: path, as: UTF8.self)
            skipped.append(
                SkippedImage(
                    file: String(decoding: relative, as: UTF8.self),
                    error: .cannotOpen(path: display, reason: String(cString: strerror(errno)))))
            return
        }
        defer { closedir(directory) }
        var subfolders: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            let entryPath = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            var status = stat()
            let cName = (name + [0]).map { CChar(bitPattern: $0) }
            guard fstatat(dirfd(directory), cName, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            var type = status.st_mode & S_IFMT
            if type == S_IFDIR {
                subfolders.append(entryPath)
                continue
            }
            guard Self.hasImageExtension(name) else { continue }
            if type == S_IFLNK {
                // A link to a file is read; a dangling link is reported when it fails to open.
                type = fstatat(dirfd(directory), cName, &status, 0) == 0 ? status.st_mode & S_IFMT : S_IFREG
            }
            if type == S_IFREG {
                files.append(SourceFile(relativePath: entryPath))
            } else if let kind = ImageFile.nonRegularKind(type) {
                let file = SourceFile(relativePath: entryPath)
                skipped.append(
                    SkippedImage(
                        file: file.displayPath,
                        error: .notARegularFile(path: "\(folder)/\(file.displayPath)", kind: kind)))
            }
        }
        for subfolder in subfolders { walk(relative: subfolder) }
    }

    static func hasImageExtension(_ name: [UInt8]) -> Bool {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")) else { return false }
        return extensions.contains(String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased())
    }
}

/// The class of each image: from `labels.json` in the folder when there is one (StyleGAN2-ADA's
/// dataset.json layout: {"labels": [["relative/path.png", class], ...]}, a class being a name or a number),
/// else the first folder level under the folder, else none.
struct ClassAssignment {
    /// Sorted; a label is an index into them.
    let names: [String]
    /// One per file, in the order of the files given; empty when unlabelled.
    let labels: [Int]

    static let fileName = "labels.json"

    init(files: [SourceFile], folder: String) throws(DatasetError) {
        let labelsPath = "\(folder)/\(Self.fileName)"
        let classOf: [String]
        if FileManager.default.fileExists(atPath: labelsPath) {
            let table = try Self.readTable(labelsPath)
            classOf = try files.map { file throws(DatasetError) in
                guard let name = table[file.displayPath] else {
                    throw .badLabels(path: labelsPath, problem: "no class for \(file.displayPath)")
                }
                return name
            }
        } else if files.contains(where: { $0.topFolder != nil }) {
            classOf = try files.map { file throws(DatasetError) in
                guard let name = file.topFolder else {
                    throw .badLabels(
                        path: folder,
                        problem: "\(file.displayPath) lies outside the class folders (each first-level folder is a "
                            + "class); move it into one, or list every file in \(Self.fileName)")
                }
                return name
            }
        } else {
            names = []
            labels = []
            return
        }
        names = Set(classOf).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        labels = classOf.map { index[$0]! }
    }

    private static func readTable(_ path: String) throws(DatasetError) -> [String: String] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .badLabels(path: path, problem: "cannot read it as JSON (\(error.localizedDescription))")
        }
        guard let pairs = (object as? [String: Any])?["labels"] as? [[Any]] else {
            throw .badLabels(path: path, problem: "expected {\"labels\": [[\"relative/path.png\", class], ...]}")
        }
        var table: [String: String] = [:]
        for (row, pair) in pairs.enumerated() {
            guard pair.count == 2, let file = pair[0] as? String else {
                throw .badLabels(path: path, problem: "labels[\(row)] is not a [path, class] pair")
            }
            if let name = pair[1] as? String {
                table[file] = name
            } else if let number = pair[1] as? Int {
                table[file] = String(number)
            } else {
                throw .badLabels(path: path, problem: "labels[\(row)]: the class is neither a name nor a whole number")
            }
        }
        return table
    }
}
