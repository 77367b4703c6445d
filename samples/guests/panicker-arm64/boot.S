/* Entry of the arm64 panicker guest. QEMU's -kernel loads the ELF at its
 * physical (load) addresses and enters _start at EL1 with the MMU off; the
 * code is linked at the higher half (KERNEL_VBASE + physical), so until the
 * MMU is on only PC-relative addressing (adrp, literal pools) is used.
 *
 * Page tables (4 KiB granule, 48-bit VA in both halves; level-0 tables named
 * as Linux names them, which is how a dump reader finds them: QEMU saves no TTBRs):
 *   TTBR0 (identity, only for turning the MMU on):
 *     L0[0] -> L1: [0] 1 GiB device block at 0, [1] 1 GiB normal block at 0x40000000
 *   TTBR1 (the kernel's view):
 *     L0[0] -> L1: [0] -> L2 -> L3: [0] 4 KiB device page = PL011 (0x09000000)
 *                  [1] -> L2: 64 x 2 MiB normal blocks = RAM 0x40000000..0x48000000
 * so a dump exercises L1 blocks, L2 blocks and L3 pages.
 *
 * CPU 1 is started by kmain through PSCI CPU_ON (QEMU's virt board answers
 * HVC) at secondary_entry, MMU off: it loads the same tables and idles in
 * C on its own stack, so a dump has a second thread with a real backtrace. */
        .section .text.boot, "ax"
        .globl _start
_start:
        msr     daifset, #0xf
        /* identity tables */
        adrp    x0, idmap_pg_dir
        adrp    x1, pt_l1_lo
        orr     x2, x1, #3
        str     x2, [x0]
        mov     x2, #0x401              /* block, AF, attr 0 (device) */
        str     x2, [x1]
        ldr     x2, =0x40000705         /* block, AF, inner shareable, attr 1 (normal) */
        str     x2, [x1, #8]
        /* higher half */
        adrp    x0, swapper_pg_dir
        adrp    x1, pt_l1_hi
        orr     x2, x1, #3
        str     x2, [x0]
        adrp    x3, pt_l2_hi
        orr     x2, x3, #3
        str     x2, [x1, #8]
        ldr     x2, =0x40000705
        mov     x4, #64
1:      str     x2, [x3], #8
        add     x2, x2, #0x200000
        subs    x4, x4, #1
        b.ne    1b
        adrp    x3, pt_l2_dev
        orr     x2, x3, #3
        str     x2, [x1]
        adrp    x5, pt_l3_dev
        orr     x2, x5, #3
        str     x2, [x3]
        ldr     x2, =0x09000403         /* page, AF, attr 0 (device) */
        str     x2, [x5]
        dsb     sy
        /* MAIR: attr0 device nGnRnE, attr1 normal write-back */
        mov     x0, #0xff00
        msr     mair_el1, x0
        /* TCR: T0SZ=T1SZ=16, 4 KiB granules (TG0=0, TG1=2), WB/WB inner
         * shareable walks, IPS=40 bits */
        ldr     x0, =((16) | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30) | (2 << 32))
        msr     tcr_el1, x0
        adrp    x0, idmap_pg_dir
        msr     ttbr0_el1, x0
        adrp    x0, swapper_pg_dir
        msr     ttbr1_el1, x0
        isb
        tlbi    vmalle1
        dsb     nsh
        isb
        mrs     x0, sctlr_el1
        orr     x0, x0, #1              /* M */
        orr     x0, x0, #4              /* C */
        orr     x0, x0, #0x1000         /* I */
        msr     sctlr_el1, x0
        isb
        ldr     x0, =high_entry         /* absolute, higher-half address */
        br      x0

/* CPU 1: the tables exist already (CPU 0 built them); same MAIR/TCR/TTBRs. */
        .globl secondary_entry
secondary_entry:
        msr     daifset, #0xf
        mov     x0, #0xff00
        msr     mair_el1, x0
        ldr     x0, =((16) | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30) | (2 << 32))
        msr     tcr_el1, x0
        adrp    x0, idmap_pg_dir
        msr     ttbr0_el1, x0
        adrp    x0, swapper_pg_dir
        msr     ttbr1_el1, x0
        isb
        tlbi    vmalle1
        dsb     nsh
        isb
        mrs     x0, sctlr_el1
        orr     x0, x0, #1
        orr     x0, x0, #4
        orr     x0, x0, #0x1000
        msr     sctlr_el1, x0
        isb
        ldr     x0, =secondary_high
        br      x0
        .ltorg

        .text
secondary_high:
        ldr     x0, =stack1_top
        mov     sp, x0
        mov     x29, #0
        mov     x30, #0
        bl      secondary_main
3:      wfi
        b       3b

high_entry:
        ldr     x0, =stack_top
        mov     sp, x0
        mov     x29, #0                 /* end of the frame-record chain */
        mov     x30, #0
        bl      kmain
2:      wfi
        b       2b
        .ltorg

        .section .data.pagetables, "aw"
        .balign 4096
        .globl idmap_pg_dir, pt_l1_lo, swapper_pg_dir, pt_l1_hi, pt_l2_hi, pt_l2_dev, pt_l3_dev
idmap_pg_dir:  .space 4096
pt_l1_lo:  .space 4096
swapper_pg_dir:  .space 4096
pt_l1_hi:  .space 4096
pt_l2_hi:  .space 4096
pt_l2_dev: .space 4096
pt_l3_dev: .space 4096

        .section .data.stack, "aw"
        .balign 16
        .space 16384
        .globl stack_top
stack_top:
        .space 8192
        .globl stack1_top
stack1_top:
