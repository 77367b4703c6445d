/* Cut-down Linux structures for the layout-selection tests: the members
 * XenScope's task and module readers look up, with filler around them so
 * that no offset is zero by accident. Not the kernel's definitions. */
#include <stddef.h>
#include <stdio.h>

struct list_head { struct list_head *next, *prev; };
