import Foundation

/// A `multipart/form-data` body (RFC 7578): text fields and files, each by the name the
/// client gave it. Only what an adapter upload needs; anything malformed is an error.
struct MultipartForm {
    struct Part {
        let name: String
        let filename: String?
        let data: Data
    }

    let parts: [Part]

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The boundary parameter of a `multipart/form-data` content type, if it is one.
    static func boundary(contentType: String) -> String? {
        let items = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.first?.lowercased() == "multipart/form-data" else { return nil }
        for item in items.dropFirst() where item.lowercased().hasPrefix("boundary=") {
            var b = String(item.dropFirst("boundary=".count))
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = String(b.dropFirst().dropLast()) }
            return (1...70).contains(b.utf8.count) ? b : nil
        }
        return nil
    }

    init(body: Data, boundary: String) throws {
        let delimiter = Data("--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8)
        guard var cursor = body.range(of: delimiter)?.upperBound else { throw Malformed(description: "no multipart boundary in the body") }
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            let rest = body[cursor...]
            if rest.starts(with: Data("--".utf8)) { break }
            guard rest.starts(with: crlf) else { throw Malformed(description: "a multipart boundary is not followed by a line break") }
            cursor += 2
            guard let headerEnd = body.range(of: Data("\r\n\r\n".utf8), in: cursor..<body.endIndex) else {
                throw Malformed(description: "a multipart part has no end of headers")
            }
            guard let headers = String(data: body[cursor..<headerEnd.lowerBound], encoding: .utf8) else {
                throw Malformed(description: "multipart part headers are not UTF-8")
            }
            guard let next = body.range(of: crlf + delimiter, in: headerEnd.upperBound..<body.endIndex) else {
                throw Malformed(description: "a multipart part is not terminated by the boundary")
            }
            let (name, filename) = try Self.disposition(headers)
            parts.append(Part(name: name, filename: filename, data: body[headerEnd.upperBound..<next.lowerBound]))
            guard parts.count <= 64 else { throw Malformed(description: "more than 64 multipart parts") }
            cursor = next.upperBound
        }
        self.parts = parts
    }

    /// `name` and `filename` of the Content-Disposition header.
    private static func disposition(_ headers: String) throws -> (String, String?) {
        for line in headers.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" else { continue }
            var name: String?, filename: String?
            for item in line[line.index(after: colon)...].split(separator: ";").dropFirst() {
                let kv = item.trimmingCharacters(in: .whitespaces)
                guard let eq = kv.firstIndex(of: "=") else { continue }
                var value = String(kv[kv.index(after: eq)...])
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch kv[..<eq].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name else { throw Malformed(description: "a multipart part has no name") }
            return (name, filename)
        }
        throw Malformed(description: "a multipart part has no Content-Disposition header")
    }
}
