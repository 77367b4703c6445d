/* Linux 6.4+ module memory (mem[] by enum mod_mem_type) and 6.7+ thread
 * list (signal_struct.thread_head through task_struct.thread_node). */
#include "common.h"

enum mod_mem_type { MOD_TEXT = 0, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT,
                    MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA, MOD_MEM_NUM_TYPES };
struct mod_tree_node { void *mod; void *node[3]; };
struct module_memory { void *base; unsigned int size; struct mod_tree_node mtn; };
struct module { int state; struct list_head list; char name[56]; long filler[7];
                struct module_memory mem[MOD_MEM_NUM_TYPES]; void *kallsyms; };
struct signal_struct { int nr_threads; int quick_threads; struct list_head thread_head; long filler[2]; };
struct task_struct { long thread_info; unsigned int __state; long filler[11]; struct list_head tasks;
                     int pid; int tgid; struct task_struct *real_parent; struct signal_struct *signal;
                     struct list_head thread_node; char comm[16]; };

void old_layouts(void);

int main(void) {
    struct module m; struct task_struct t; struct signal_struct s;   /* so that the CU's DWARF describes them */
    (void)m; (void)t; (void)s;
    printf("new module.mem %zu\n", offsetof(struct module, mem));
    printf("new module_memory.base %zu\n", offsetof(struct module_memory, base));
    printf("new module_memory.size %zu\n", offsetof(struct module_memory, size));
    printf("new sizeof.module_memory %zu\n", sizeof(struct module_memory));
    printf("new MOD_TEXT %d\nnew MOD_RO_AFTER_INIT %d\nnew MOD_INIT_RODATA %d\n", MOD_TEXT, MOD_RO_AFTER_INIT, MOD_INIT_RODATA);
    printf("new task_struct.signal %zu\n", offsetof(struct task_struct, signal));
    printf("new task_struct.thread_node %zu\n", offsetof(struct task_struct, thread_node));
    printf("new signal_struct.thread_head %zu\n", offsetof(struct signal_struct, thread_head));
    old_layouts();
    return 0;
}
