import FlintJinja
import Foundation
import XCTest

final class JinjaValueTests: XCTestCase {
    func testParseJSONPreservesOrder() throws {
        let v = try JinjaValue.parseJSON(#"{"z": 1, "a": {"y": [1, 2.5, -3e2, true, false, null], "b": "\u00e9\n\ud83d\ude00"}, "m": 0}"#)
        XCTAssertEqual(v.objectValue?.keys, ["z", "a", "m"])
        XCTAssertEqual(v["a"]?.objectValue?.keys, ["y", "b"])
        XCTAssertEqual(v["a"]?["y"], [1, 2.5, -300.0, true, false, .none])
        XCTAssertEqual(v["a"]?["b"], "é\n😀")
        XCTAssertEqual(try v.toJSON(), #"{"z": 1, "a": {"y": [1, 2.5, -300.0, true, false, null], "b": "é\n😀"}, "m": 0}"#)
    }

    func testParseJSONRejectsInvalid() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "tru", "01", "1.", "\"\\x\"", "[1] x", "\"a\u{01}\""] {
            XCTAssertThrowsError(try JinjaValue.parseJSON(bad), bad)
        }
        let deep = String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)
        XCTAssertThrowsError(try JinjaValue.parseJSON(deep))
    }

    func testInitFromJSONSerialization() throws {
        let any = try JSONSerialization.jsonObject(with: Data(#"{"b": [true, 1, 1.5, null, "s"], "a": false}"#.utf8))
        let v = JinjaValue(json: any)
        XCTAssertEqual(v["b"], [true, 1, 1.5, .none, "s"])
        XCTAssertEqual(v["a"], false)
        XCTAssertEqual(v.objectValue?.keys, ["a", "b"]) // unordered input: keys sorted
        XCTAssertEqual(JinjaValue(json: ["x": 1, "y": [true]] as [String: Any]), ["x": 1, "y": [true]])
        XCTAssertEqual(JinjaValue(json: nil), .none)
    }

    func testToJSONFormatting() throws {
        let v: JinjaValue = ["a": [1, ["b": .none]], "c": "x\"y", "d": .object(JinjaObject())]
        XCTAssertEqual(try v.toJSON(), #"{"a": [1, {"b": null}], "c": "x\"y", "d": {}}"#)
        XCTAssertEqual(try v.toJSON(indent: "  "), "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": \"x\\\"y\",\n  \"d\": {}\n}")
        XCTAssertEqual(try JinjaValue.string("é\u{1F600}\u{7F}").toJSON(ensureASCII: true), #""\u00e9\ud83d\ude00\u007f""#)
        XCTAssertEqual(try JinjaValue.double(.infinity).toJSON(), "Infinity")
        XCTAssertThrowsError(try JinjaValue.undefined.toJSON())
    }

    func testPythonPrinting() {
        XCTAssertEqual(JinjaValue.double(1).pythonString, "1.0")
        XCTAssertEqual(JinjaValue.double(0.5).pythonString, "0.5")
        XCTAssertEqual(JinjaValue.double(1e16).pythonString, "1e+16")
        XCTAssertEqual(JinjaValue.double(1.5e-7).pythonString, "1.5e-07")
        XCTAssertEqual(JinjaValue.double(123456789.0).pythonString, "123456789.0")
        XCTAssertEqual(JinjaValue.double(-0.0).pythonString, "-0.0")
        XCTAssertEqual(JinjaValue.double(.nan).pythonString, "nan")
        XCTAssertEqual(JinjaValue.none.pythonString, "None")
        XCTAssertEqual(JinjaValue.bool(true).pythonString, "True")
        XCTAssertEqual(JinjaValue.undefined.pythonString, "")
        XCTAssertEqual(JinjaValue.array(["a", 1, .none, ["k": "it's"]]).pythonString, #"['a', 1, None, {'k': "it's"}]"#)
        XCTAssertEqual(JinjaValue.string("a\\b\n").pythonRepr, #"'a\\b\n'"#)
    }

    func testOrderedObject() {
        var o = JinjaObject()
        o["b"] = 1
        o["a"] = 2
        o["b"] = 3
        XCTAssertEqual(o.keys, ["b", "a"])
        XCTAssertEqual(o["b"], 3)
        o["b"] = nil
        XCTAssertEqual(o.keys, ["a"])
        XCTAssertEqual(JinjaObject([("x", 1), ("y", 2)]), ["y": 2, "x": 1] as JinjaObject) // order-insensitive equality
        XCTAssertEqual(JinjaValue.object([("k", "v")]), ["k": "v"])
    }

    func testHostFunctionsAndContext() throws {
        let t = try Template("{{ greet('W') }} {{ n + 1 }} {{ items|join(',') }}")
        let greet = JinjaCallable(name: "greet") { args, _ in .string("Hi " + (args.first?.pythonString ?? "")) }
        XCTAssertEqual(try t.render(["greet": .callable(greet), "n": 41, "items": ["a", "b"]]), "Hi W 42 a,b")
        XCTAssertEqual(try t.render(["greet": .callable(greet), "n": 1, "items": []] as JinjaObject), "Hi W 2 ")
    }

    func testTemplateIsReusableAndSendable() async throws {
        let t = try Template("{{ x * 2 }}")
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 { group.addTask { try t.render(["x": .int(i)]) } }
            var all: [String] = []
            for try await r in group { all.append(r) }
            return all.sorted()
        }
        XCTAssertEqual(results, ["0", "10", "12", "14", "2", "4", "6", "8"])
    }
}
