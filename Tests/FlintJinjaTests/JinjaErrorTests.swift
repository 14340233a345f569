import FlintJinja
import XCTest

final class JinjaErrorTests: XCTestCase {
    private func renderError(_ source: String, _ context: [String: JinjaValue] = [:], limits: RenderLimits = RenderLimits(),
                             file: StaticString = #filePath, line: UInt = #line) -> JinjaError? {
        do {
            _ = try Template(source, limits: limits).render(context)
            XCTFail("expected an error for \(source)", file: file, line: line)
            return nil
        } catch let e as JinjaError {
            return e
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
            return nil
        }
    }

    func testRaiseException() {
        let e = renderError("{% if true %}{{ raise_exception('Roles must alternate') }}{% endif %}")
        XCTAssertEqual(e, .raised(message: "Roles must alternate"))
        XCTAssertEqual(e?.description, "Roles must alternate")
    }

    func testUnknownFilterAndTest() {
        XCTAssertEqual(renderError("{{ 1 | frobnicate }}"), .unknownFilter(name: "frobnicate"))
        XCTAssertTrue(renderError("{{ 1 | frobnicate }}")?.description.contains("frobnicate") ?? false)
        XCTAssertEqual(renderError("{{ 1 is frobnicated }}"), .unknownTest(name: "frobnicated"))
        XCTAssertEqual(renderError("{{ [1] | map('nofilter') | list }}"), .unknownFilter(name: "nofilter"))
    }

    func testUnknownTagHasLine() {
        XCTAssertThrowsError(try Template("a\nb\n{% frob x %}")) { error in
            XCTAssertEqual(error as? JinjaError, .unknownTag(name: "frob", line: 3))
        }
    }

    func testSyntaxErrorsHaveLineNumbers() {
        func syntaxLine(_ source: String) -> Int? {
            do { _ = try Template(source); return nil } catch let JinjaError.syntax(_, line) { return line } catch { return -1 }
        }
        XCTAssertEqual(syntaxLine("a\n\n{% if %}"), 3)
        XCTAssertEqual(syntaxLine("{% if true %}\nx"), 2)
        XCTAssertEqual(syntaxLine("{{ x"), 1)
        XCTAssertEqual(syntaxLine("line\n{{ 'unterminated }}"), 2)
        XCTAssertEqual(syntaxLine("{% for x in y %}{% endif %}"), 1)
        XCTAssertEqual(syntaxLine("{% break %}"), 1)
        XCTAssertEqual(syntaxLine("{{ (1 }}"), 1)
        XCTAssertEqual(syntaxLine("{{ 1 + }}"), 1)
        XCTAssertEqual(syntaxLine("{# never closed"), 1)
        XCTAssertEqual(syntaxLine("{% endfor %}"), 1)
        XCTAssertEqual(syntaxLine("{{ a ? b }}"), 1)
        XCTAssertNotNil(syntaxLine("{% raw %}abc"))
    }

    func testTypeErrorsNameTheOperation() {
        guard case .type(let op, _)? = renderError("{{ 'a' + 1 }}") else { return XCTFail() }
        XCTAssertEqual(op, "'+'")
        guard case .type(let op2, _)? = renderError("{{ 'a' - 1 }}") else { return XCTFail() }
        XCTAssertEqual(op2, "'-'")
        guard case .type? = renderError("{{ 1 < 'a' }}") else { return XCTFail() }
        guard case .type? = renderError("{% for x in 5 %}{% endfor %}") else { return XCTFail() }
        guard case .type? = renderError("{{ none|length }}") else { return XCTFail() }
        guard case .type? = renderError("{{ 'x' + none }}") else { return XCTFail() }
        guard case .type? = renderError("{{ 1 in 5 }}") else { return XCTFail() }
    }

    func testCallingUndefinedIsAnError() {
        XCTAssertEqual(renderError("{{ nothing() }}"), .undefined(name: "nothing"))
        XCTAssertEqual(renderError("{{ a.b.c() }}"), .undefined(name: "a.b"))
        guard case .type? = renderError("{{ 'abc'.nomethod() }}") else { return XCTFail() }
        guard case .type? = renderError("{{ x() }}", ["x": 1]) else { return XCTFail() }
    }

    func testRuntimeErrors() {
        guard case .runtime? = renderError("{{ 1 / 0 }}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ 1 // 0 }}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ 1 % 0 }}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ 9223372036854775807 + 1 }}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ 2 ** 100 }}") else { return XCTFail() }
        guard case .runtime? = renderError("{% set a, b = [1, 2, 3] %}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ [1][::0] }}") else { return XCTFail() }
        guard case .runtime? = renderError("{{ [1].append(2) }}") else { return XCTFail() }
    }

    func testOutputSizeLimit() {
        var limits = RenderLimits()
        limits.maxOutputBytes = 100
        guard case .limitExceeded? = renderError("{% for i in range(1000) %}xxxxx{% endfor %}", limits: limits) else { return XCTFail() }
        // Exponential string growth is caught by the default limit too.
        guard case .limitExceeded? = renderError("{% set ns = namespace(s='xx') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}") else { return XCTFail() }
        guard case .limitExceeded? = renderError("{{ 'x' * 100000000000 }}") else { return XCTFail() }
        guard case .limitExceeded? = renderError("{{ [1] * 100000000000 }}") else { return XCTFail() }
        guard case .limitExceeded? = renderError("{{ range(100000000000)|length }}") else { return XCTFail() }
    }

    func testLoopIterationLimit() {
        var limits = RenderLimits()
        limits.maxLoopIterations = 1000
        guard case .limitExceeded? = renderError("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", limits: limits) else { return XCTFail() }
    }

    func testRecursionLimit() {
        guard case .limitExceeded? = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") else { return XCTFail() }
    }

    func testDeepNestingDoesNotCrash() {
        for (open, close) in [("(", ")"), ("[", "]"), ("{'a': ", "}")] {
            let src = "{{ " + String(repeating: open, count: 5000) + "1" + String(repeating: close, count: 5000) + " }}"
            XCTAssertThrowsError(try Template(src))
        }
        XCTAssertThrowsError(try Template("{{ " + String(repeating: "not ", count: 5000) + "1 }}"))
        XCTAssertThrowsError(try Template("{{ " + String(repeating: "-", count: 5000) + "1 }}"))
        XCTAssertThrowsError(try Template(String(repeating: "{% if true %}", count: 2000) + String(repeating: "{% endif %}", count: 2000)))
        // Moderate nesting is fine.
        XCTAssertEqual(try render("{{ " + String(repeating: "(", count: 20) + "1" + String(repeating: ")", count: 20) + " }}"), "1")
        XCTAssertEqual(try render(String(repeating: "{% if true %}", count: 30) + "x" + String(repeating: "{% endif %}", count: 30)), "x")
    }

    func testErrorsAreDescribed() {
        XCTAssertEqual(JinjaError.syntax(message: "boom", line: 4).description, "Template syntax error on line 4: boom")
        XCTAssertEqual(JinjaError.unknownFilter(name: "f").description, "Unknown filter 'f'")
        XCTAssertEqual(JinjaError.unknownTest(name: "t").description, "Unknown test 't'")
        XCTAssertTrue(JinjaError.type(operation: "'+'", message: "m").description.contains("'+'"))
    }
}

final class JinjaRobustnessTests: XCTestCase {
    func testLongOperatorChainsAreBounded() throws {
        let ok = "{{ " + Array(repeating: "1", count: 500).joined(separator: " + ") + " }}"
        XCTAssertEqual(try render(ok), "500")
        let tooLong = "{{ " + Array(repeating: "1", count: 50_000).joined(separator: " + ") + " }}"
        XCTAssertThrowsError(try Template(tooLong))
        XCTAssertThrowsError(try Template("{{ x" + String(repeating: "|upper", count: 50_000) + " }}"))
        XCTAssertThrowsError(try Template("{{ x" + String(repeating: ".a", count: 50_000) + " }}"))
        // Parses (under the node limit) but exceeds the evaluation depth bound.
        let deep = "{{ " + Array(repeating: "1", count: 1990).joined(separator: " + ") + " }}"
        XCTAssertThrowsError(try render(deep)) { error in
            guard case JinjaError.limitExceeded = error else { return XCTFail("\(error)") }
        }
    }

    func testExtremeNumbersDoNotTrap() throws {
        XCTAssertEqual(try render("{{ [1, 2, 3][::9223372036854775807] }}"), "[1]")
        XCTAssertEqual(try render("{{ [1, 2, 3][::-9223372036854775807] }}"), "[3]")
        XCTAssertEqual(try render("{{ [1, 2, 3][-9223372036854775807:9223372036854775807] }}"), "[1, 2, 3]")
        XCTAssertEqual(try render("{{ 'abc'[9223372036854775807] }}|{{ 'abc'[-9223372036854775807] }}"), "|")
        XCTAssertThrowsError(try render("{{ range(-9223372036854775807, 9223372036854775807)|length }}"))
        XCTAssertEqual(try render("{{ range(9223372036854775806, 9223372036854775807)|list }}"), "[9223372036854775806]")
        XCTAssertEqual(try render("{{ '12'|int(0, 99) }} {{ 1e300|int }} {{ (-9223372036854775807 - 1) // 2 }}"), "0 0 -4611686018427387904")
        XCTAssertThrowsError(try render("{{ (-9223372036854775807 - 1) // -1 }}"))
        XCTAssertThrowsError(try render("{{ -(-9223372036854775807 - 1) }}"))
        XCTAssertThrowsError(try render("{{ 99999999999999999999 }}"))
        XCTAssertEqual(try render("{{ 'x'|center(-5) }}{{ 'x'.ljust(-3) }}{{ 'x'|indent(-2, true) }}"), "xxx")
    }

    func testDeeplyNestedDataPrints() throws {
        var v: JinjaValue = 1
        for _ in 0..<600 { v = [v] }
        let out = try Template("{{ v }}").render(["v": v])
        XCTAssertTrue(out.contains("..."))
        XCTAssertThrowsError(try Template("{{ v|tojson }}").render(["v": v]))
    }
}
