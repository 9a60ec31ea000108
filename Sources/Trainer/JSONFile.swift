import JSONKit
import Foundation
import Space

/// Reads and parses a JSON file, with errors that name the file and say what it was for.
func readJSONFile(_ path: String, what: String) throws(TrainerError) -> JSONValue {
    let data: Data
    do { data = try SystemErrors.readFile(path) } catch { throw .file(path: path, message: "cannot read \(what): " + error.reason) }
    do { return try JSONParser.parse(bytes: [UInt8](data)) } catch { throw .file(path: path, message: "invalid JSON at \(error)") }
}
