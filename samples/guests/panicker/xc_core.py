#!/usr/bin/env python3
"""Rewrites a QEMU ELF dump of the panicker guest as a Xen `xl dump-core`
(xc_core) file, so the xc_core reader and the PV machine-frame translation
can be tested before real Xen dumps exist. Synthetic: real samples from the
lab replace it; the layout follows Xen's tools/libs/guest/xg_core.h and
docs/misc/dump-core-format.txt (restated in Sources/Dump/XenLayouts.swift).

usage: xc_core.py DUMP.elf OUT {hvm|pv}
hvm: pages indexed by .xen_pfn, CR3 a guest-physical address.
pv:  pages indexed by .xen_p2m with machine frame = pfn XOR 0x1200 (whole
     2 MiB blocks swapped, as PV superpages need contiguous frames); the
     boot page tables (phys 0x101000-0x108fff) are rewritten to hold machine
     frames and CR3 holds the machine address of the PML4."""
import struct, sys

src, out, kind = sys.argv[1], sys.argv[2], sys.argv[3]
pv = kind == "pv"
data = open(src, "rb").read()

# --- read the QEMU ELF dump: RAM PT_LOAD at 0, NT_PRSTATUS + QEMU notes ----
(e_phoff,) = struct.unpack_from("<Q", data, 32)
e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
ram = None
notes = []
for i in range(e_phnum):
    p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
    if p_type == 1 and p_paddr == 0:
        ram = data[p_offset:p_offset + p_filesz]
    if p_type == 4:
        pos = p_offset
        while pos < p_offset + p_filesz:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            d = pos + 12 + ((namesz + 3) & ~3)
            notes.append((name, ntype, data[d:d + descsz]))
            pos = d + ((descsz + 3) & ~3)
import os
npages = int(os.environ.get("XC_PAGES", len(ram) // 4096))   # fewer pages: small fuzz seeds
ram = ram[:npages * 4096]
pr = [d for n, t, d in notes if n == b"CORE" and t == 1]
qemu = [d for n, t, d in notes if n == b"QEMU"]

def mfn(pfn):
    return pfn ^ 0x1200 if pv and pfn < npages else pfn

pages = bytearray(ram)
if pv:
    mask = 0x000ffffffffff000
    for table in range(0x101, min(0x109, npages)):
        for i in range(512):
            off = table * 4096 + i * 8
            (e,) = struct.unpack_from("<Q", pages, off)
            if e & 1:
                frame = (e & mask) >> 12
                struct.pack_into("<Q", pages, off, (e & ~mask) | (mfn(frame) << 12))

# --- vcpu_guest_context (x86-64, 5168 bytes) per vCPU ------------------------
def context(prd, qd):
    c = bytearray(5168)
    r = struct.unpack_from("<27Q", prd, 112)   # r15 r14 … rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs
    struct.pack_into("<Q", c, 512, (1 << 5) | (1 << 2))           # VGCF_online | VGCF_in_kernel
    struct.pack_into("<15Q", c, 520, *r[0:15])                     # r15 … rdi
    struct.pack_into("<Q", c, 520 + 128, r[16])                    # rip
    struct.pack_into("<H", c, 520 + 136, r[17])                    # cs
    struct.pack_into("<Q", c, 520 + 144, r[18])                    # rflags
    struct.pack_into("<Q", c, 520 + 152, r[19])                    # rsp
    struct.pack_into("<H", c, 520 + 160, r[20])                    # ss
    for off, v in ((168, r[24]), (176, r[23]), (184, r[25]), (192, r[26])):   # es ds fs gs
        struct.pack_into("<H", c, 520 + off, v)
    cr = struct.unpack_from("<5Q", qd, 8 + 18 * 8 + 24 * 10)
    cr3 = (mfn(cr[3] >> 12) << 12) if pv else cr[3]
    struct.pack_into("<5Q", c, 4984, cr[0], 0, cr[2], cr3, cr[4])
    struct.pack_into("<Q", c, 5144, r[21])                         # fs_base
    struct.pack_into("<Q", c, 5152, r[22])                         # gs_base_kernel
    return bytes(c)

ctxs = b"".join(context(p, q) for p, q in zip(pr, qemu))

# --- notes ------------------------------------------------------------------
def note(ntype, desc):
    return struct.pack("<III", 4, len(desc), ntype) + b"Xen\0" + desc + b"\0" * ((-len(desc)) % 4)
version = bytearray(1280)
struct.pack_into("<QQ", version, 0, 4, 17)
version[16:21] = b".3-pc"
notes_blob = (note(0x2000000, b"") +
              note(0x2000001, struct.pack("<QQQQ", 0xF00FEBED if pv else 0xF00FEBEE, len(pr), npages, 4096)) +
              note(0x2000002, bytes(version)) +
              note(0x2000003, struct.pack("<Q", 1)))

# --- sections: null, .shstrtab, .note.Xen, .xen_prstatus, .xen_pages, index --
index_name = b".xen_p2m" if pv else b".xen_pfn"
names = [b"", b".shstrtab", b".note.Xen", b".xen_prstatus", b".xen_pages", index_name]
shstr = b"\0"
name_off = [0]
for n in names[1:]:
    name_off.append(len(shstr)); shstr += n + b"\0"
if pv:
    index = b"".join(struct.pack("<QQ", p, mfn(p)) for p in range(npages))
else:
    index = b"".join(struct.pack("<Q", p) for p in range(npages))
body = bytearray()
def place(blob, align=8):
    while (64 + len(body)) % align: body.append(0)
    off = 64 + len(body); body.extend(blob); return off
o_notes = place(notes_blob)
o_prs = place(ctxs)
o_pages = place(bytes(pages), 4096)
o_index = place(index)
o_shstr = place(shstr)
o_sh = place(b"")
def sh(i, stype, off, size, entsize, align):
    return struct.pack("<IIQQQQIIQQ", name_off[i], stype, 0, 0, off, size, 0, 0, align, entsize)
shdrs = (sh(0, 0, 0, 0, 0, 0) + sh(1, 3, o_shstr, len(shstr), 0, 0) + sh(2, 7, o_notes, len(notes_blob), 0, 4) +
         sh(3, 1, o_prs, len(ctxs), 5168, 8) + sh(4, 1, o_pages, len(pages), 4096, 4096) +
         sh(5, 1, o_index, len(index), 16 if pv else 8, 8))
ehdr = (b"\x7fELF\x02\x01\x01" + b"\0" * 9 +
        struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 0, o_sh, 0, 64, 0, 0, 64, 6, 1))
with open(out, "wb") as f:
    f.write(ehdr); f.write(body); f.write(shdrs)
