import JSONKit
import Foundation
import Space

/// Reads and parses a JSON file, with errors that name the file and say what it was for.
func readJSONFile(_ path: String, what: String) throws(TrainerError) -> JSONValue {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) }
    catch { throw .file(path: path, message: "cannot read \(what): " + SystemErrors.explain(error, place: "the file")) }
    do { return try JSONParser.parse(text) } catch { throw .file(path: path, message: "invalid JSON at \(error)") }
}
