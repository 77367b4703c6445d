/* panicker boot code: multiboot(1) entry in 32-bit protected mode, page
 * tables, long mode, jump to the higher half; plus the real-mode trampoline
 * that brings the second CPU (AP) up the same way, and the task switch. */

#define KERNEL_VMA 0xffffffff80000000
#define MB_MAGIC   0x1BADB002
/* bit 1: memory info, bit 16: load addresses in the header (a.out kludge),
 * which lets QEMU load a flat image of this 64-bit kernel. */
#define MB_FLAGS   0x00010002
#define TRAMPOLINE 0x8000
#define PHYS(x)    ((x) - KERNEL_VMA)

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header            /* header_addr */
    .long _load_start          /* load_addr */
    .long _load_end_phys       /* load_end_addr */
    .long _bss_end_phys        /* bss_end_addr */
    .long _start32             /* entry_addr */

    .section .boot.bss, "aw", @nobits
    .align 4096
    .globl boot_pml4
boot_pml4:   .skip 4096
pdpt_low:    .skip 4096
pdpt_high:   .skip 4096
pdpt_direct: .skip 4096
pd_ident:    .skip 4096
pd_mmio:     .skip 4096
pd_high:     .skip 4096
pt_high:     .skip 4096
boot_stack:  .skip 4096
boot_stack_top:

    .section .boot.data, "aw"
    .align 16
gdt64:
    .quad 0                     /* 0x00 null */
    .quad 0x00af9a000000ffff    /* 0x08 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10 data */
    .quad 0x00cf9a000000ffff    /* 0x18 32-bit code (AP trampoline) */
gdt64_end:
gdt64_ptr:
    .word gdt64_end - gdt64 - 1
    .quad gdt64
    .globl boot_magic, boot_info
boot_magic: .long 0
boot_info:  .long 0

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    movl %eax, boot_magic
    movl %ebx, boot_info
    movl $boot_stack_top, %esp

    /* zero the tables */
    movl $boot_pml4, %edi
    xorl %eax, %eax
    movl $(8 * 4096 / 4), %ecx
    rep stosl

    /* PML4: [0] identity, [273] direct map (0xffff888000000000), [511] kernel */
    movl $pdpt_low + 3, boot_pml4
    movl $pdpt_direct + 3, boot_pml4 + 273 * 8
    movl $pdpt_high + 3, boot_pml4 + 511 * 8

    /* identity: first GiB with 2 MiB pages, plus the local APIC page */
    movl $pd_ident + 3, pdpt_low
    movl $pd_mmio + 3, pdpt_low + 3 * 8
    movl $pd_ident, %edi
    movl $0x83, %eax            /* present, writable, 2 MiB */
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b
    movl $0xfee00000 + 0x9b, pd_mmio + 503 * 8   /* P RW PWT PCD PS */

    /* direct map: one 1 GiB page when the CPU has them, else the 2 MiB table */
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 26), %edx
    jz 2f
    movl $0x83, pdpt_direct
    jmp 3f
2:  movl $pd_ident + 3, pdpt_direct
3:
    /* kernel: 0xffffffff80000000 → phys 0; first 2 MiB in 4 KiB pages, then
     * 2 MiB pages up to 64 MiB */
    movl $pd_high + 3, pdpt_high + 510 * 8
    movl $pt_high + 3, pd_high
    movl $pt_high, %edi
    movl $0x003, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 1b
    movl $pd_high + 8, %edi
    movl $0x200083, %eax
    movl $31, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b
    /* page 0 of the kernel window stays unmapped: catches null+KERNEL_VMA */
    movl $0, pt_high

    .globl enter_long_mode
enter_long_mode:
    movl %cr4, %eax
    orl $0x20, %eax             /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx      /* EFER */
    rdmsr
    orl $0x100, %eax            /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax       /* PG | PE */
    movl %eax, %cr0
    lgdt gdt64_ptr
    ljmp $0x08, $long_mode_low

    .code64
long_mode_low:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    cmpl $0, ap_booting
    jne 1f
    movabsq $boot_high, %rax
    jmp *%rax
1:  movabsq $ap_high, %rax
    jmp *%rax

    .globl ap_booting
ap_booting: .long 0

    /* Real-mode trampoline for the AP, copied to TRAMPOLINE by the BSP. */
    .code16
    .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TRAMPOLINE + (tramp_gdt_ptr - ap_trampoline)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x18, $(TRAMPOLINE + (tramp32 - ap_trampoline))
    .code32
tramp32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $enter_long_mode, %eax
    jmp *%eax
    .align 8
tramp_gdt_ptr:
    .word gdt64_end - gdt64 - 1
    .long gdt64
ap_trampoline_end:

    .text
    .code64
/* The outermost frames: CFI says "no return address" so that unwinders
 * stop here instead of walking into whatever lies above the stack. */
    .type boot_high, @function
boot_high:
    .cfi_startproc
    .cfi_undefined rip
    movabsq $kernel_stack + 16384, %rsp
    xorl %ebp, %ebp
    movl boot_magic, %edi
    movl boot_info, %esi
    call kmain
1:  cli
    hlt
    jmp 1b
    .cfi_endproc
    .size boot_high, . - boot_high

    .type ap_high, @function
ap_high:
    .cfi_startproc
    .cfi_undefined rip
    movq ap_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    call ap_main
1:  cli
    hlt
    jmp 1b
    .cfi_endproc
    .size ap_high, . - ap_high

/* First code a new task runs (switch_to "returns" here). */
    .globl task_start
    .type task_start, @function
task_start:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    call task_main
1:  cli
    hlt
    jmp 1b
    .cfi_endproc
    .size task_start, . - task_start

/* void switch_to(struct task *prev, struct task *next): saves the callee-saved
 * registers on prev's stack, stores rsp in prev->rsp (offset 0), and resumes
 * next. */
    .globl switch_to
    .type switch_to, @function
switch_to:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size switch_to, . - switch_to

    .section .note.GNU-stack, "", @progbits
