import Foundation

/// Absolute path of a file in the repository's `samples/` folder.
func samplePath(_ name: String, file: StaticString = #filePath) -> String {
    let here = URL(fileURLWithPath: "\(file)")
    return here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("samples").appendingPathComponent(name).path
}
