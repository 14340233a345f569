/// Elements of a `BinaryHeap`: `precedes` is true when `a` must be popped before `b`.
protocol HeapElement {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

/// A minimal array-backed priority queue (pops the element that precedes all others).
struct BinaryHeap<Element: HeapElement> {
    private(set) var elements: [Element] = []

    var isEmpty: Bool { elements.isEmpty }

    mutating func removeAll() { elements.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Element) {
        elements.append(e)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if Element.precedes(elements[child], elements[parent]) {
                elements.swapAt(child, parent)
                child = parent
            } else {
                break
            }
        }
    }

    mutating func pop() -> Element? {
        guard !elements.isEmpty else { return nil }
        let top = elements[0]
        let last = elements.removeLast()
        if !elements.isEmpty {
            elements[0] = last
            var parent = 0
            let n = elements.count
            while true {
                let l = 2 * parent + 1
                if l >= n { break }
                var best = l
                let r = l + 1
                if r < n && Element.precedes(elements[r], elements[l]) { best = r }
                if Element.precedes(elements[best], elements[parent]) {
                    elements.swapAt(best, parent)
                    parent = best
                } else {
                    break
                }
            }
        }
        return top
    }
}
