/* zlib for Swift: the init macros are not importable, so wrap them. */
#include <zlib.h>

/* Inflate gzip or zlib data (15 window bits + 32 = detect the header). */
static inline int xenscope_inflate_init(z_stream *s) { return inflateInit2(s, 15 + 32); }
