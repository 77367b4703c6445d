/* Structures shaped like Xen's (anonymous unions of register names, nested
 * structs, arrays, pointers, typedefs, atomics), for TypeLayouts. The program
 * prints the compiler's own offsetof/sizeof: the ground truth the test compares. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct { int counter; } atomic_t;
typedef uint16_t domid_t;
struct regs {
    uint64_t r15, r14;
    union { uint64_t rip; uint32_t eip; uint16_t ip; };
    uint16_t cs, _pad0[1];
    uint8_t saved_upcall_mask;
    union { uint64_t rflags; uint32_t eflags; };
};
struct arch { void *fpu; struct regs user_regs; unsigned long dr[4]; struct { uint64_t pfn; } guest_table; };
struct state { int state; uint64_t entry; uint64_t time[4]; };
struct dom;
struct vcpu {
    int vcpu_id;
    int processor;
    struct dom *domain;
    struct state runstate;
    _Bool is_running;
    unsigned long pause_flags;
    atomic_t pause_count;
    struct arch arch;
};
struct dom { domid_t domain_id; unsigned int max_vcpus; struct vcpu **vcpu; struct dom *next_in_list; const volatile unsigned int tot_pages; };

struct vcpu the_vcpu;
struct dom the_dom;

#define P(s, m) printf(#s "." #m " %zu %zu\n", offsetof(struct s, m), sizeof(((struct s *)0)->m))
int main(void) {
    printf("sizeof vcpu %zu\nsizeof dom %zu\nsizeof regs %zu\n", sizeof(struct vcpu), sizeof(struct dom), sizeof(struct regs));
    P(vcpu, vcpu_id); P(vcpu, processor); P(vcpu, domain); P(vcpu, runstate.state); P(vcpu, runstate.time);
    P(vcpu, is_running); P(vcpu, pause_flags); P(vcpu, pause_count); P(vcpu, arch.user_regs.rip);
    P(vcpu, arch.user_regs.eflags); P(vcpu, arch.user_regs.cs); P(vcpu, arch.guest_table); P(vcpu, arch.dr);
    P(dom, domain_id); P(dom, max_vcpus); P(dom, vcpu); P(dom, next_in_list); P(dom, tot_pages);
    P(regs, rip); P(regs, rflags); P(regs, saved_upcall_mask);
    return 0;
}
