import DWARF
import FixtureSupport
import Foundation
import Testing

/// Struct layouts read from DWARF equal the compiler's own offsetof/sizeof,
/// through anonymous unions, nested structs, arrays, typedefs and qualifiers.
@Suite struct TypeLayoutsTests {
    static let built: Result<(binary: String, truth: [String: (Int, Int)]), FixtureError> = {
        do {
            let dir = try FixtureCompiler.tempDir()
            let bin = try FixtureCompiler.compile(["types/layouts.c"], output: "layouts", in: dir, flags: ["-g", "-O0"])
            var truth = [String: (Int, Int)]()
            for line in try FixtureCompiler.run(bin, []).split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 3, let o = Int(f[1]), let s = Int(f[2]) { truth[String(f[0])] = (o, s) }
                if f.count == 3, f[0] == "sizeof", let s = Int(f[2]) { truth["sizeof " + f[1]] = (0, s) }
            }
            return .success((bin, truth))
        } catch let e as FixtureError { return .failure(e) } catch { return .failure(FixtureError("\(error)")) }
    }()

    @Test func offsetsAndSizesEqualTheCompilers() throws {
        let (bin, truth) = try Self.built.get()
        let t = try TypeLayouts(path: bin)
        #expect(truth.count == 24)
        for (key, (offset, size)) in truth {
            if key.hasPrefix("sizeof ") {
                #expect(try t.size(of: String(key.dropFirst(7))) == size, "\(key)")
                continue
            }
            let dot = key.firstIndex(of: ".")!
            let l = try t.member(String(key[key.index(after: dot)...]), in: String(key[..<dot]))
            #expect(l.offset == offset && l.size == size, "\(key): DWARF \(l.offset)/\(l.size), compiler \(offset)/\(size)")
        }
        #expect(try t.member("domain", in: "vcpu").isPointer)
        #expect(try t.member("runstate.time", in: "vcpu").count == 4)
        #expect(try t.member("runstate.time", in: "vcpu").elementSize == 8)
        #expect(try t.member("tot_pages", in: "dom").typeName == "unsigned int")
    }

    @Test func missingStructsMembersAndDWARFAreSaid() throws {
        let (bin, _) = try Self.built.get()
        let t = try TypeLayouts(path: bin)
        #expect(throws: TypeLayoutError.noStruct(image: bin, name: "domain")) { try t.size(of: "domain") }
        #expect(throws: TypeLayoutError.noMember(image: bin, structName: "vcpu", member: "arch.user_regs.rsp")) {
            try t.member("arch.user_regs.rsp", in: "vcpu")
        }
        // The same program without -g has no DWARF: said, not guessed.
        let dir = try FixtureCompiler.tempDir()
        let stripped = try FixtureCompiler.compile(["types/layouts.c"], output: "layouts-nodebug", in: dir, flags: ["-O0"])
        #expect(throws: TypeLayoutError.noDebugInfo(stripped)) { try TypeLayouts(path: stripped) }
    }

    /// DWARF with no struct in it is "no debug info" for layouts. The fuzzer
    /// (scripts/fuzz-dwarf.sh) found this path freed the libdw session and
    /// closed the file twice (once here, once in deinit): a double free.
    @Test func dwarfWithoutStructsIsSaidOnceAndFreedOnce() throws {
        let dir = try FixtureCompiler.tempDir()
        let bin = try FixtureCompiler.compile(["elf/hello.c"], output: "hello-g", in: dir, flags: ["-g", "-O0"])
        for _ in 0..<3 {
            #expect(throws: TypeLayoutError.noDebugInfo(bin)) { try TypeLayouts(path: bin) }
        }
    }
}
