/* libsnappy (C API) for Swift: kdump-compressed snappy pages. */
#include <stddef.h>
#include <snappy-c.h>
