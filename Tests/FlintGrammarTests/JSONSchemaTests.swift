import XCTest
import FlintJinja
import FlintTestSupport
import FlintGrammar

/// Schemas with instances the compiled grammar must accept and reject.
/// Required properties come first in schema order, then optional ones in order.
let schemaCases: [(name: String, schema: String, valid: [String], invalid: [String])] = [
    ("string", #"{"type":"string"}"#,
     [#""""#, #""hello""#, #""esc \" \\ \n \u00e9 \ud83d\ude00""#, #""日本""#],
     ["hello", #""a"#, "\"a\nb\"", #""\x""#, #""\ud800""#, #""\q""#, "1"]),
    ("integer", #"{"type":"integer"}"#, ["0", "-12", "1234567890"], ["01", "1.5", "-", "+1", "1e3", #""1""#]),
    ("number", #"{"type":"number"}"#, ["0", "-1.25", "3e10", "2.5E-3", "-0.0"], ["1.", ".5", "01", "1e", "NaN"]),
    ("boolean and null", #"{"type":["boolean","null"]}"#, ["true", "false", "null"], ["True", "0", #""null""#]),
    ("nullable string", #"{"type":["string","null"],"maxLength":3}"#, [#""abc""#, "null"], [#""abcd""#, "1"]),
    ("flat object", #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}"#,
     [#"{"name":"Bo","age":3}"#, "{ \"name\" : \"Bo\" ,\n  \"age\": 3 }"],
     [#"{"name":"Bo"}"#, #"{"age":3,"name":"Bo"}"#, #"{"name":"Bo","age":3,"x":1}"#, #"{"name":1,"age":3}"#, "{}"]),
    ("optional fields", #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"],"additionalProperties":false}"#,
     [#"{"b":"x"}"#, #"{"b":"x","a":1}"#, #"{"b":"x","c":true}"#, #"{"b":"x","a":1,"c":false}"#],
     [#"{"a":1}"#, #"{"b":"x","c":true,"a":1}"#, "{}", #"{"b":"x",}"#]),
    ("all optional", #"{"properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"additionalProperties":false}"#,
     ["{}", #"{"a":1}"#, #"{"b":2}"#, #"{"a":1,"b":2}"#], [#"{"b":2,"a":1}"#, #"{"c":1}"#, #"{,}"#]),
    ("extra keys allowed", #"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#,
     [#"{"id":1}"#, #"{"id":1,"note":"x","more":[1,{"k":null}]}"#], [#"{"id":1,"id":"x"}"#, #"{"note":"x"}"#]),
    ("additionalProperties schema", #"{"type":"object","additionalProperties":{"type":"number"}}"#,
     ["{}", #"{"x":1,"y":2.5}"#], [#"{"x":"1"}"#]),
    ("nested objects", #"{"type":"object","properties":{"user":{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name","tags"],"additionalProperties":false}},"required":["user"],"additionalProperties":false}"#,
     [#"{"user":{"name":"a","tags":[]}}"#, #"{"user":{"name":"a","tags":["x","y"]}}"#],
     [#"{"user":{"name":"a"}}"#, #"{"user":{"name":"a","tags":[1]}}"#, #"{"user":"a"}"#]),
    ("enum", #"{"enum":["red","green",3,null,{"a":[1]}]}"#, [#""red""#, #""green""#, "3", "null", #"{"a":[1]}"#],
     [#""blue""#, "4", #""Red""#, #"{"a":[2]}"#]),
    ("const", #"{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"],"additionalProperties":false}"#,
     [#"{"kind":"circle","r":2}"#], [#"{"kind":"square","r":2}"#]),
    ("array bounds", #"{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}"#,
     ["[1,2]", "[1, 2, 3]", "[ 1 ,2 ]"], ["[]", "[1]", "[1,2,3,4]", "[1,2,]", #"["a","b"]"#]),
    ("array max only", #"{"type":"array","maxItems":1}"#, ["[]", #"[{"a":1}]"#], ["[1,2]"]),
    ("prefixItems", #"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
     [#"["a",1]"#], [#"["a"]"#, #"[1,"a"]"#, #"["a",1,2]"#]),
    ("string lengths", #"{"type":"string","minLength":2,"maxLength":4}"#, [#""ab""#, #""abcd""#, #""é日""#, #""\n\t""#],
     [#""a""#, #""abcde""#]),
    ("pattern", #"{"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}(x|yz)?$"}"#, [#""AB-123""#, #""QQ-1234yz""#, #""ZZ-000x""#],
     [#""ab-123""#, #""AB-12""#, #""AB-12345""#, #""AB-123y""#]),
    ("pattern with dot and escapes", #"{"type":"string","pattern":"a.c\\.[^0-9]+"}"#, [#""abc.d""#, #""a\"c.xy""#], [#""abc.1""#, #""abcxd""#]),
    ("pattern email-like", #"{"type":"string","pattern":"^[\\w.+-]+@[\\w-]+\\.[a-z]{2,}$"}"#, [#""a.b+c@x-y.com""#, #""q@w.io""#],
     [#""@x.com""#, #""a@x.c""#, #""a b@x.com""#, #""a@x.COM""#]),
    ("pattern groups", #"{"type":"string","pattern":"^(?:ab|cd){2}[^\\s]?$"}"#, [#""abcd""#, #""cdcd!""#], [#""ab""#, #""abab ""#, #""abcdxy""#]),
    ("anyOf", #"{"anyOf":[{"type":"integer"},{"type":"object","properties":{"x":{"type":"string"}},"required":["x"],"additionalProperties":false}]}"#,
     ["5", #"{"x":"y"}"#], [#""5""#, "{}", #"{"x":5}"#]),
    ("oneOf with shared type", #"{"type":"string","oneOf":[{"maxLength":1},{"pattern":"^ab+$"}]}"#, [#""a""#, #""abbb""#], [#""ba""#, "1"]),
    ("allOf merge", #"{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}"#,
     [#"{"a":1,"b":true}"#, #"{"a":1,"b":true,"c":1}"#], [#"{"a":1}"#, #"{"b":true}"#, #"{"a":"x","b":true}"#]),
    ("recursion via $defs", ##"{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"],"additionalProperties":false}}}"##,
     [#"{"value":1}"#, #"{"value":1,"children":[{"value":2,"children":[]},{"value":3,"children":[{"value":4}]}]}"#],
     [#"{"children":[]}"#, #"{"value":1,"children":[{"value":"x"}]}"#]),
    ("definitions", ##"{"type":"object","properties":{"p":{"$ref":"#/definitions/point"}},"required":["p"],"additionalProperties":false,"definitions":{"point":{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":2}}}"##,
     [#"{"p":[1,2.5]}"#], [#"{"p":[1]}"#]),
    ("integer bounds", #"{"type":"integer","minimum":-15,"maximum":230}"#, ["-15", "-9", "0", "7", "99", "100", "199", "230"],
     ["-16", "-100", "231", "300", "1000", "01"]),
    ("non-negative integer", #"{"type":"integer","minimum":0}"#, ["0", "5", "123456"], ["-1", "-0"]),
    ("integer exclusive bounds", #"{"type":"integer","exclusiveMinimum":100,"exclusiveMaximum":1000}"#, ["101", "999", "555"],
     ["100", "1000", "99", "1001"]),
    ("integer lower bound only", #"{"type":"integer","minimum":42}"#, ["42", "43", "99", "100", "1234567"], ["41", "0", "-50", "4"]),
    ("integer upper bound only", #"{"type":"integer","maximum":-3}"#, ["-3", "-4", "-100000"], ["-2", "0", "5"]),
    ("number bounds", #"{"type":"number","minimum":0,"maximum":1}"#, ["0", "0.5", "1", "1.000", "0.999"],
     ["-0.1", "1.5", "1.01", "2", "1e0", "-1"]),
    ("negative number bounds", #"{"type":"number","minimum":-10,"exclusiveMaximum":-2}"#, ["-10", "-10.0", "-9.99", "-3.5", "-3"],
     ["-10.5", "-2", "-2.5", "0", "-11", "5"]),
    ("number lower bound", #"{"type":"number","minimum":-1.5}"#, ["-1", "0", "12.25", "100000"], ["-2", "-1.6"]),
    ("formats", #"{"type":"array","prefixItems":[{"type":"string","format":"date"},{"type":"string","format":"uuid"},{"type":"string","format":"date-time"}],"items":false}"#,
     [#"["2024-02-29","123e4567-e89b-12d3-a456-426614174000","2024-01-01T12:30:00Z"]"#],
     [#"["2024-13-01","123e4567-e89b-12d3-a456-426614174000","2024-01-01T12:30:00Z"]"#]),
    ("json_object", #"{"type":"json_object"}"#, ["{}", #"{"a":[1,{"b":null}],"c":"d"}"#], ["[]", "1", #""x""#]),
    ("empty schema", "{}", ["1", "[]", #"{"a":"b"}"#, "null"], ["", "nul", "[1,]"]),
    ("required without properties entry", #"{"type":"object","properties":{"a":{"type":"integer"}},"required":["z"]}"#,
     [#"{"z":[1],"a":1}"#, #"{"z":1}"#], [#"{"a":1}"#]),
]

final class JSONSchemaTests: XCTestCase {
    func testSchemaCases() throws {
        XCTAssertGreaterThanOrEqual(schemaCases.count, 20)
        for c in schemaCases {
            let g: Grammar
            do {
                g = try JSONSchemaCompiler.compile(schema: c.schema)
            } catch {
                XCTFail("\(c.name): \(error)")
                continue
            }
            let validator = SchemaValidator(root: try JinjaValue.parseJSON(c.schema))
            for v in c.valid {
                XCTAssertTrue(g.accepts(v), "\(c.name): should accept \(v)\n\((try? JSONSchemaCompiler.gbnf(schema: c.schema)) ?? "")")
                // The instances themselves are valid.
                if let parsed = try? JinjaValue.parseJSON(v) {
                    XCTAssertNil(validator.validate(parsed), "\(c.name): test instance \(v)")
                } else {
                    XCTFail("\(c.name): test instance \(v) is not JSON")
                }
            }
            for v in c.invalid {
                XCTAssertFalse(g.accepts(v), "\(c.name): should reject \(v)")
            }
        }
    }

    func testWhitespaceIsBounded() throws {
        let g = try JSONSchemaCompiler.compile(schema: #"{"type":"array"}"#)
        XCTAssertTrue(g.accepts("[ 1 ]"))
        XCTAssertTrue(g.accepts("[\n    1\n]"))
        XCTAssertFalse(g.accepts("[" + String(repeating: " ", count: 50) + "1]"))
        XCTAssertFalse(g.accepts("[\n\n\n1]"))
    }

    func testSchemaErrors() {
        func expect(_ schema: String, _ kind: JSONSchemaError.Kind, file: StaticString = #filePath, line: UInt = #line) {
            do {
                _ = try JSONSchemaCompiler.compile(schema: schema)
                XCTFail("expected \(kind) for \(schema)", file: file, line: line)
            } catch let e as JSONSchemaError {
                XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
                XCTAssertFalse(e.message.isEmpty)
            } catch {
                XCTFail("unexpected \(error)", file: file, line: line)
            }
        }
        expect("{not json", .invalidJSON)
        expect("42", .invalidSchema)
        expect("false", .invalidSchema)
        expect(#"{"type":"strin"}"#, .invalidSchema)
        expect(#"{"type":[]}"#, .invalidSchema)
        expect(#"{"enum":[]}"#, .invalidSchema)
        expect(#"{"anyOf":{}}"#, .invalidSchema)
        expect(#"{"type":"array","minItems":3,"maxItems":2}"#, .invalidSchema)
        expect(#"{"type":"integer","minimum":5,"maximum":2}"#, .invalidSchema)
        expect(#"{"type":"string","minLength":-1}"#, .invalidSchema)
        expect(#"{"not":{"type":"string"}}"#, .unsupportedKeyword("not"))
        expect(#"{"type":"object","properties":{"a":{"if":{},"then":{}}}}"#, .unsupportedKeyword("if"))
        expect(#"{"type":"number","multipleOf":3}"#, .unsupportedKeyword("multipleOf"))
        expect(#"{"type":"string","pattern":"(?=a)b"}"#, .unsupportedKeyword("pattern"))
        expect(#"{"type":"string","pattern":"(a)\\1"}"#, .unsupportedKeyword("pattern"))
        expect(#"{"type":"string","pattern":"a)"}"#, .unsupportedKeyword("pattern"))
        expect(##"{"$ref":"#/$defs/missing"}"##, .unresolvedReference("#/$defs/missing"))
        expect(#"{"$ref":"http://example.com/s.json"}"#, .unresolvedReference("http://example.com/s.json"))
        expect(#"{"type":"object","required":["b"],"additionalProperties":false}"#, .invalidSchema)
        expect(#"{"type":"string","pattern":"^(a*)*$"}"#, .invalidSchema)
    }

    func testHarmlessKeywordsIgnored() throws {
        let g = try JSONSchemaCompiler.compile(schema: #"{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"T","description":"d","type":"object","properties":{"a":{"type":"string","description":"x","default":"y","examples":["z"]}},"required":["a"],"additionalProperties":false}"#)
        XCTAssertTrue(g.accepts(#"{"a":"q"}"#))
    }

    /// Mutated schemas either compile or fail with a JSONSchemaError; never a
    /// crash, a hang or another error type.
    func testFuzzSchemas() {
        var rng = SplitMix64(seed: 99)
        let alphabet = Array(#"{}[]:,"0123-9.eE abtruefalsn\^$*+?()|#/typestringintegerobjectarrayproperties"#)
        var compiled = 0
        for i in 0..<1500 {
            var chars = Array(schemaCases[i % schemaCases.count].schema)
            for _ in 0..<(1 + rng.below(3)) {
                guard !chars.isEmpty else { break }
                let p = rng.below(chars.count)
                switch rng.below(3) {
                case 0: chars.remove(at: p)
                case 1: chars.insert(alphabet[rng.below(alphabet.count)], at: p)
                default: chars[p] = alphabet[rng.below(alphabet.count)]
                }
            }
            do {
                let g = try JSONSchemaCompiler.compile(schema: String(chars))
                compiled += 1
                _ = g.accepts("{}")
            } catch is JSONSchemaError {
            } catch {
                XCTFail("\(String(chars)): unexpected \(error)")
            }
        }
        XCTAssertGreaterThan(compiled, 100)
    }
}
