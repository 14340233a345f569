import XCTest
final class FlintLoadingTestsPlaceholder: XCTestCase { func testNothing() {} }
