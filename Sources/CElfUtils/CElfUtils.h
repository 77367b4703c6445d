/* elfutils (libdw, libdwfl, libelf) for Swift: Debian libdw-dev, libelf-dev. */
#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <libelf.h>
#include <gelf.h>
#include <dwarf.h>
