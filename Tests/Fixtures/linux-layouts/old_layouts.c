/* Linux <= 6.3 module memory (core_layout) and <= 6.6 thread list (thread_group). */
#include "common.h"

struct module_layout { void *base; unsigned int size; unsigned int text_size; unsigned int ro_size; };
struct module { int state; struct list_head list; char name[56]; long filler[5];
                struct module_layout core_layout; struct module_layout init_layout; void *kallsyms; };
struct signal_struct { int nr_threads; long filler[3]; };
struct task_struct { long thread_info; unsigned int __state; long filler[9]; struct list_head tasks;
                     int pid; int tgid; struct task_struct *real_parent; struct list_head thread_group;
                     struct signal_struct *signal; char comm[16]; };

void old_layouts(void) {
    struct module m; struct task_struct t;   /* so that the CU's DWARF describes them */
    (void)m; (void)t;
    printf("old module.core_layout %zu\n", offsetof(struct module, core_layout));
    printf("old module_layout.base %zu\n", offsetof(struct module_layout, base));
    printf("old module_layout.size %zu\n", offsetof(struct module_layout, size));
    printf("old module_layout.text_size %zu\n", offsetof(struct module_layout, text_size));
    printf("old task_struct.thread_group %zu\n", offsetof(struct task_struct, thread_group));
}
