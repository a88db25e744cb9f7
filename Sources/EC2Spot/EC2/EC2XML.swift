import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML document as a small tree, enough to read EC2's Query-API responses.
///
/// EC2 answers in namespaced XML (`xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`);
/// namespaces are ignored and element names are used as written. Lists arrive as
/// `<volumeSet><item>…</item></volumeSet>`.
enum EC2XML {
    /// One element: its name, its direct text and its child elements in document order.
    struct Element: Sendable, Equatable {
        var name: String
        var text: String
        var children: [Element]

        /// The first child named `name`.
        func child(_ name: String) -> Element? { children.first { $0.name == name } }

        /// The trimmed text of the element reached by following `path` (nil if absent).
        func text(_ path: String...) -> String? {
            var node = self
            for name in path {
                guard let next = node.child(name) else { return nil }
                node = next
            }
            return node.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// The `<item>` children of the list element `name` (empty if the list is absent).
        func items(_ name: String) -> [Element] {
            child(name)?.children.filter { $0.name == "item" } ?? []
        }

        /// Depth-first search for the first element named `name`, self included.
        func first(_ name: String) -> Element? {
            if self.name == name { return self }
            for child in children {
                if let found = child.first(name) { return found }
            }
            return nil
        }
    }

    /// Why a document could not be read.
    struct ParseError: Error, Sendable {
        var message: String
    }

    /// Deepest nesting accepted; EC2 responses are far shallower.
    static let maximumDepth = 64

    /// Parses `data` into its root element.
    /// - Throws: ``ParseError`` for malformed XML, an empty document or excessive nesting.
    static func parse(_ data: Data) throws -> Element {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = delegate
        let ok = parser.parse()
        if let failure = delegate.failure { throw ParseError(message: failure) }
        guard ok, let root = delegate.root else {
            let reason = parser.parserError.map { String(describing: $0) } ?? "no root element"
            throw ParseError(message: "malformed XML: \(reason)")
        }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [Element] = []
        var root: Element?
        var failure: String?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            if stack.count >= EC2XML.maximumDepth {
                failure = "XML nested deeper than \(EC2XML.maximumDepth) elements"
                parser.abortParsing()
                return
            }
            stack.append(Element(name: elementName, text: "", children: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?) {
            guard let finished = stack.popLast() else { return }
            if stack.isEmpty {
                root = finished
            } else {
                stack[stack.count - 1].children.append(finished)
            }
        }
    }
}
