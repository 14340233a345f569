import Foundation
import MultipartKit
import NIOCore

/// A `multipart/form-data` body (RFC 7578), split into parts by multipart-kit's parser:
/// text fields and files, each by the name the client gave it. Anything malformed (no
/// parts, a part the boundary never closes, a part without a name) is an error.
struct MultipartForm {
    struct Part {
        let name: String
        let filename: String?
        let data: Data
    }

    let parts: [Part]
    static let maxParts = 64

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The boundary parameter of a `multipart/form-data` content type, if it is one.
    static func boundary(contentType: String) -> String? {
        let items = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.first?.lowercased() == "multipart/form-data" else { return nil }
        return parameter("boundary", in: items.dropFirst()).flatMap { (1...70).contains($0.utf8.count) ? $0 : nil }
    }

    init(body: ByteBuffer, boundary: String) throws {
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = []
        var current: MultipartPart?
        parser.onHeader = { name, value in
            if current == nil { current = MultipartPart(body: ByteBuffer()) }
            current!.headers.add(name: name, value: value)
        }
        parser.onBody = { chunk in
            if current == nil { current = MultipartPart(body: ByteBuffer()) }
            current!.body.writeBuffer(&chunk)
        }
        parser.onPartComplete = {
            parts.append(current ?? MultipartPart(body: ByteBuffer()))
            current = nil
        }
        do { try parser.execute(body) } catch { throw Malformed(description: "the multipart body does not parse") }
        guard current == nil else { throw Malformed(description: "a multipart part is not terminated by the boundary") }
        guard !parts.isEmpty else { throw Malformed(description: "no multipart parts in the body") }
        guard parts.count <= Self.maxParts else { throw Malformed(description: "more than \(Self.maxParts) multipart parts") }
        self.parts = try parts.map { part in
            guard let disposition = part.headers.first(name: "Content-Disposition") else {
                throw Malformed(description: "a multipart part has no Content-Disposition header")
            }
            let items = disposition.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let name = Self.parameter("name", in: items.dropFirst()) else {
                throw Malformed(description: "a multipart part has no name")
            }
            return Part(name: name, filename: Self.parameter("filename", in: items.dropFirst()), data: Data(part.body.readableBytesView))
        }
    }

    /// `key=value` or `key="value"` among header parameters.
    private static func parameter(_ key: String, in items: ArraySlice<String>) -> String? {
        for item in items {
            guard let eq = item.firstIndex(of: "="), item[..<eq].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = String(item[item.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
