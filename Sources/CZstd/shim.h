/* libzstd for Swift: streaming decompression. */
#include <zstd.h>
