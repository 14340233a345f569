import FlintJinja
import XCTest

/// Behaviour that Python jinja2 (as configured by transformers) cannot
/// produce directly, or where Flint is deliberately lenient.
final class JinjaExtensionTests: XCTestCase {
    func testGenerationBlockRendersBody() throws {
        XCTAssertEqual(try render("{% generation %}gen {{ 1 }}{% endgeneration %}!"), "gen 1!")
        XCTAssertEqual(try render("{% for m in ['a'] %}\n  {% generation %}\n  {{ m }}\n  {% endgeneration %}\n{% endfor %}"), "  a\n")
    }

    func testAttributeOfUndefinedIsUndefined() throws {
        XCTAssertEqual(try render("[{{ nothing.attr }}][{{ nothing['k'] }}][{{ nothing.a.b is defined }}]"), "[][][False]")
    }

    func testStrftimeNowAndGlobalsCanBeShadowed() throws {
        let year = try render("{{ strftime_now('%Y') }}")
        XCTAssertEqual(year.count, 4)
        XCTAssertEqual(try Template("{{ range }}").render(["range": "mine"]), "mine")
    }

    func testJoinerAndCycler() throws {
        XCTAssertEqual(try render("{% set j = joiner(', ') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}"), "1, 2, 3")
        XCTAssertEqual(try render("{% set c = cycler('a', 'b') %}{% for x in range(3) %}{{ c.next() }}{% endfor %}"), "aba")
    }

    func testOutputIsCappedByDefault() throws {
        XCTAssertEqual(RenderLimits().maxOutputBytes, 16 << 20)
    }
}
