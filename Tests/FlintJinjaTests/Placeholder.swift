import XCTest
final class FlintJinjaTestsPlaceholder: XCTestCase { func testNothing() {} }
