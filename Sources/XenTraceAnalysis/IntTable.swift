/// An open-addressing hash table from `UInt64` keys to `Int` values, for the
/// analyses' hot loops (vCPU index by domain/vCPU id, RIP counts per exit
/// reason, hypercalls per vCPU). Swift's `Dictionary` hashes with SipHash
/// and checks uniqueness on every in-place update; this one does a
/// multiplicative hash and a linear probe over two flat arrays.
///
/// No removal. Insertion order is not kept: callers sort what they read out.
struct IntTable {
    /// Keys, `empty` where unused: 8 bytes a slot, so probing a big table
    /// touches few cache lines. The key `empty` itself is kept aside.
    private var keys: [UInt64] = []
    private var values: [Int] = []
    private var shift = 64
    private var emptyKeyValue: Int? = nil
    private static let empty = UInt64.max
    /// Number of keys stored.
    private(set) var count = 0

    init() {}

    @inline(__always) private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    /// The index of `key`'s slot, or of the empty slot where it would go.
    @inline(__always) private func probe(_ key: UInt64) -> Int {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key || k == IntTable.empty { return i }
            i = (i + 1) & mask
        }
    }

    /// The value stored for `key`, if any.
    @inline(__always) func get(_ key: UInt64) -> Int? {
        if key == IntTable.empty { return emptyKeyValue }
        guard !keys.isEmpty else { return nil }
        let i = probe(key)
        return keys[i] == key ? values[i] : nil
    }

    /// Stores `value` for `key` (new or replaced).
    @inline(__always) mutating func set(_ key: UInt64, _ value: Int) {
        if key == IntTable.empty {
            if emptyKeyValue == nil { count += 1 }
            emptyKeyValue = value
            return
        }
        if (count + 1) * 2 > keys.count { grow() }
        let i = probe(key)
        if keys[i] != key { keys[i] = key; count += 1 }
        values[i] = value
    }

    /// Adds `delta` to the value of `key` (0 if absent).
    @inline(__always) mutating func add(_ key: UInt64, _ delta: Int) {
        if key == IntTable.empty { set(key, (emptyKeyValue ?? 0) + delta); return }
        if (count + 1) * 2 > keys.count { grow() }
        let i = probe(key)
        if keys[i] == key {
            values[i] += delta
        } else {
            keys[i] = key
            values[i] = delta
            count += 1
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let cap = max(16, keys.count * 2)
        shift = 64 - cap.trailingZeroBitCount
        keys = [UInt64](repeating: IntTable.empty, count: cap)
        values = [Int](repeating: 0, count: cap)
        for j in oldKeys.indices where oldKeys[j] != IntTable.empty {
            let i = probe(oldKeys[j])
            keys[i] = oldKeys[j]
            values[i] = oldValues[j]
        }
    }

    /// Every (key, value) pair, in no particular order.
    var pairs: [(key: UInt64, value: Int)] {
        var out: [(key: UInt64, value: Int)] = []
        out.reserveCapacity(count)
        for i in keys.indices where keys[i] != IntTable.empty { out.append((keys[i], values[i])) }
        if let v = emptyKeyValue { out.append((IntTable.empty, v)) }
        return out
    }
}
