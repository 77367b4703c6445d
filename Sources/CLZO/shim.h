/* liblzo2 for Swift: LZO1X page decompression (kdump-compressed lzo pages).
 * lzo_init() is a macro Swift cannot import, hence the wrappers. */
#include <lzo/lzo1x.h>

static inline int xenscope_lzo_init(void) { return lzo_init(); }

/* Decompresses src into dst (capacity *dst_len); *dst_len is set to the bytes
 * written. Returns LZO_E_OK (0) or a negative LZO error. */
static inline int xenscope_lzo1x_decompress(const unsigned char *src, unsigned long src_len,
                                            unsigned char *dst, unsigned long *dst_len) {
    lzo_uint out = (lzo_uint)*dst_len;
    int rc = lzo1x_decompress_safe(src, (lzo_uint)src_len, dst, &out, NULL);
    *dst_len = (unsigned long)out;
    return rc;
}
