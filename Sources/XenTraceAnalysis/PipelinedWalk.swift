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
        var volume: VolumePass? = nil

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
        func finish(_ w: XenalyzeOrderWalk, _ v: VolumePass) {
            cond.lock()
            walk = w
            volume = v
            done = true
            cond.broadcast()
            cond.unlock()
        }
    }

    struct Unchecked<T>: @unchecked Sendable { var value: T }

    /// Runs the volume pass and collects what the model needs into batches
    /// (the producer side).
    struct Batcher: MergedItemHandler {
        let q: Queue
        var volume: VolumePass
        var batch: [MergedItem] = []
        init(_ q: Queue, volume: VolumePass) {
            self.q = q
            self.volume = volume
            batch.reserveCapacity(PipelinedWalk.batchSize)
        }
        mutating func handle(_ item: MergedItem) {
            guard let m = volume.handle(item) else { return }
            batch.append(m)
            if batch.count == PipelinedWalk.batchSize {
                q.put(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Walks on a second thread, running `volume` there, and feeds what the
    /// model needs to `handler` here, in order; returns the walk (for its
    /// diagnostics) and the finished volume pass.
    static func run<H: MergedItemHandler>(_ walk: XenalyzeOrderWalk, volume: VolumePass,
                                          into handler: inout H) -> (XenalyzeOrderWalk, VolumePass) {
        let q = Queue()
        let w = Unchecked(value: (walk, volume))
        let t = Thread {
            var m = w.value.0
            var b = Batcher(q, volume: w.value.1)
            m.run(into: &b)
            if !b.batch.isEmpty { q.put(b.batch) }
            q.finish(m, b.volume)
        }
        t.stackSize = 1 << 20
        t.start()
        while let b = q.take() {
            for item in b { handler.handle(item) }
        }
        return (q.walk!, q.volume!)
    }
}
