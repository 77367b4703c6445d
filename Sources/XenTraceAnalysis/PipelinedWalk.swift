import Foundation

/// Runs a ``XenalyzeOrderWalk`` on a second thread and hands its items to the
/// caller in batches through a bounded queue, so decoding/merging and the
/// analysis passes use two cores while memory stays bounded
/// (depth × batch size items).
enum PipelinedWalk {
    static let batchSize = 16_384
    static let depth = 4

    final class Queue: @unchecked Sendable {
        let cond = NSCondition()
        var batches: [[MergedItem]] = []
        var done = false
        var walk: XenalyzeOrderWalk? = nil

        func put(_ b: [MergedItem]) {
            cond.lock()
            while batches.count >= PipelinedWalk.depth { cond.wait() }
            batches.append(b)
            cond.broadcast()
            cond.unlock()
        }
        func take() -> [MergedItem]? {
            cond.lock()
            defer { cond.unlock() }
            while batches.isEmpty && !done { cond.wait() }
            if batches.isEmpty { return nil }
            let b = batches.removeFirst()
            cond.broadcast()
            return b
        }
        func finish(_ w: XenalyzeOrderWalk) {
            cond.lock()
            walk = w
            done = true
            cond.broadcast()
            cond.unlock()
        }
    }

    struct Unchecked<T>: @unchecked Sendable { var value: T }

    /// Feeds every item to `body` in order; returns the walk (for its diagnostics).
    static func run(_ walk: XenalyzeOrderWalk, bytes: UnsafeRawBufferPointer, _ body: (MergedItem) -> Void) -> XenalyzeOrderWalk {
        let q = Queue()
        let w = Unchecked(value: walk)
        let t = Thread {
            var m = w.value
            var batch: [MergedItem] = []
            batch.reserveCapacity(PipelinedWalk.batchSize)
            m.run { item in
                batch.append(item)
                if batch.count == PipelinedWalk.batchSize {
                    q.put(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { q.put(batch) }
            q.finish(m)
        }
        t.stackSize = 1 << 20
        t.start()
        while let b = q.take() {
            for item in b { body(item) }
        }
        return q.walk!
    }
}
