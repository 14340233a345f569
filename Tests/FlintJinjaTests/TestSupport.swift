import FlintJinja
import XCTest

/// Renders `source` with an optional JSON context (parsed order-preserving).
func render(_ source: String, _ contextJSON: String? = nil) throws -> String {
    var context: [String: JinjaValue] = [:]
    if let contextJSON, case .object(let o) = try JinjaValue.parseJSON(contextJSON) {
        for (k, v) in o { context[k] = v }
    }
    return try Template(source).render(context)
}

/// Asserts that rendering `source` yields `expected` (expectations come from Python jinja2).
func check(_ source: String, _ contextJSON: String?, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
    do {
        let out = try render(source, contextJSON)
        XCTAssertEqual(out, expected, "template: \(source)", file: file, line: line)
    } catch {
        XCTFail("render threw \(error) for template: \(source)", file: file, line: line)
    }
}
