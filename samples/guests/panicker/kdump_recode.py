#!/usr/bin/env python3
"""Rewrites a plain (not flattened) kdump-compressed dump with every page
compressed by another codec, the way makedumpfile -l/-p/-z lays it out:
header, sub-header, notes and bitmaps kept byte for byte, one page descriptor
per dumped page, a page that does not shrink stored raw (flags 0).

Debian's makedumpfile 1.7.2 writes lzo but not snappy or zstd, and needs a
vmcoreinfo our test guest does not have; this gives the kdump reader real
snappy/zstd/lzo pages from the very libraries makedumpfile links (liblzo2,
libsnappy, libzstd, called through ctypes). Input: `makedumpfile -R` output
of QEMU's kdump-zlib dump.

usage: kdump_recode.py IN.kdump OUT.kdump {lzo|snappy|zstd|zlib}
KDUMP_PAGES=N keeps only the first N dumped pages (small fuzz seeds);
with KDUMP_SHRINK=1 as well, the bitmaps shrink to the two blocks that cover
those pages (max_mapnr lowered to match), so a seed is ~20 KB, not ~280 KB."""
import ctypes, ctypes.util, os, struct, sys, zlib

src, out, codec = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
assert data[:8] in (b"KDUMP   ", b"DISKDUMP"), "not a plain kdump-compressed file (flattened? run makedumpfile -R)"
block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iiI", data, 428)
bitmap_start = (1 + sub_hdr_size) * block_size
bitmap_bytes = bitmap_blocks * block_size
dumped = data[bitmap_start + bitmap_bytes // 2:bitmap_start + bitmap_bytes]
count = sum(bin(b).count("1") for b in dumped)
desc_start = bitmap_start + bitmap_bytes
keep = int(os.environ.get("KDUMP_PAGES", count))
# Descriptors and page data are read from the input as it is (offsets in it).
data_orig, old_desc = data, desc_start
if keep < count:
    # Clear the dumped-page bits after the first `keep` (both bitmaps).
    head = bytearray(data[:desc_start])
    seen = 0
    for i in range(bitmap_bytes // 2):
        for bit in range(8):
            if head[bitmap_start + bitmap_bytes // 2 + i] >> bit & 1:
                seen += 1
                if seen > keep:
                    head[bitmap_start + bitmap_bytes // 2 + i] &= ~(1 << bit) & 0xff
                    head[bitmap_start + i] &= ~(1 << bit) & 0xff
    if os.environ.get("KDUMP_SHRINK") == "1":
        half = bitmap_bytes // 2
        new_half = block_size
        covers = new_half * 8
        max_mapnr = struct.unpack_from("<I", head, 440)[0]
        assert all(b == 0 for b in head[bitmap_start + half + new_half:bitmap_start + 2 * half]), "kept pages beyond the first bitmap block"
        struct.pack_into("<II", head, 436, 2, min(max_mapnr, covers))
        if struct.unpack_from("<i", head, 8)[0] >= 6:
            struct.pack_into("<Q", head, block_size + 96, min(struct.unpack_from("<Q", head, block_size + 96)[0], covers))
        head = (head[:bitmap_start] + head[bitmap_start:bitmap_start + new_half]
                + head[bitmap_start + half:bitmap_start + half + new_half])
        # Descriptors follow the smaller bitmaps; page offsets are rewritten below.
        data = bytes(head) + data[desc_start:]
        desc_start = bitmap_start + 2 * new_half
    else:
        data = bytes(head) + data[desc_start:]
def lib(name):
    path = ctypes.util.find_library(name)
    if not path:
        sys.exit(f"kdump_recode.py: lib{name} not found (scripts/install-deps.sh installs it)")
    return ctypes.CDLL(path)

if codec == "lzo":
    lzo = lib("lzo2")
    wrk = ctypes.create_string_buffer(16384 * 8)
    def compress(page):
        dst = ctypes.create_string_buffer(len(page) + len(page) // 16 + 64 + 3)
        n = ctypes.c_ulong(len(dst))
        rc = lzo.lzo1x_1_compress(page, ctypes.c_ulong(len(page)), dst, ctypes.byref(n), wrk)
        assert rc == 0, rc
        return dst.raw[:n.value]
    flag = 0x2
elif codec == "snappy":
    sn = lib("snappy")
    sn.snappy_max_compressed_length.restype = ctypes.c_size_t
    def compress(page):
        dst = ctypes.create_string_buffer(sn.snappy_max_compressed_length(ctypes.c_size_t(len(page))))
        n = ctypes.c_size_t(len(dst))
        assert sn.snappy_compress(page, ctypes.c_size_t(len(page)), dst, ctypes.byref(n)) == 0
        return dst.raw[:n.value]
    flag = 0x4
elif codec == "zstd":
    zs = lib("zstd")
    zs.ZSTD_compress.restype = ctypes.c_size_t
    zs.ZSTD_compressBound.restype = ctypes.c_size_t
    zs.ZSTD_isError.argtypes = [ctypes.c_size_t]
    def compress(page):
        dst = ctypes.create_string_buffer(zs.ZSTD_compressBound(ctypes.c_size_t(len(page))))
        n = zs.ZSTD_compress(dst, ctypes.c_size_t(len(dst)), page, ctypes.c_size_t(len(page)), 1)
        assert not zs.ZSTD_isError(ctypes.c_size_t(n))
        return dst.raw[:n]
    flag = 0x20
elif codec == "zlib":
    compress, flag = (lambda page: zlib.compress(page, 1)), 0x1
else:
    sys.exit(f"kdump_recode.py: unknown codec {codec}")

data_start = desc_start + 24 * min(keep, count)
descs, body, pos = [], [], data_start
for k in range(min(keep, count)):
    off, size, flags, pflags = struct.unpack_from("<qIIQ", data_orig, old_desc + 24 * k)
    raw = data_orig[off:off + size]
    page = zlib.decompress(raw) if flags & 0x1 else raw
    assert len(page) == block_size and not flags & ~0x1, (k, flags, len(page))
    c = compress(page)
    if len(c) < block_size:
        descs.append(struct.pack("<qIIQ", pos, len(c), flag, pflags)); body.append(c); pos += len(c)
    else:
        descs.append(struct.pack("<qIIQ", pos, block_size, 0, pflags)); body.append(page); pos += block_size
with open(out, "wb") as f:
    f.write(data[:desc_start]); f.write(b"".join(descs)); f.write(b"".join(body))
print(f"{count} pages, {sum(1 for d in descs if struct.unpack_from('<qIIQ', d)[2])} compressed with {codec}")
