import XCTest
final class FlintEngineTestsPlaceholder: XCTestCase { func testNothing() {} }
