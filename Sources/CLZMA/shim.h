/* liblzma for Swift: xz streams, several concatenated streams allowed. */
#include <lzma.h>

static inline lzma_ret xenscope_xz_init(lzma_stream *s) {
    return lzma_stream_decoder(s, UINT64_MAX, LZMA_CONCATENATED);
}
