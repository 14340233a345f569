import XCTest
final class FlintTokenizersTestsPlaceholder: XCTestCase { func testNothing() {} }
