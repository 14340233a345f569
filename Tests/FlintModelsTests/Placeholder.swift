import XCTest
final class FlintModelsTestsPlaceholder: XCTestCase { func testNothing() {} }
