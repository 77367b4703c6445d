/*
 * The lab's AVX guest program (profile gdbavx): loads a known pattern into
 * ymm0-15 and spins, checking that its registers still hold what it expects,
 * so that a debugger's change (or a hypervisor losing the upper halves) shows
 * on the guest console:
 *   XENSCOPE-AVX: loaded loop=0xSTART-0xEND      (user-mode range of the spin)
 *   XENSCOPE-AVX: changed ymmN v8_int32 = {...}  (then adopts the new value)
 *   XENSCOPE-AVX: intact rounds=N                (every 5 s without a change)
 * Pattern: dword j of ymm i = 0xa0000000 | i << 8 | j.
 * The spin is assembly so that no compiler or libc code touches the vector
 * registers between the load and the checks; built static on the host.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint32_t avx_expect[16][8] __attribute__((aligned(32)));
uint32_t avx_got[16][8] __attribute__((aligned(32)));
long avx_spin(long rounds);
extern char avx_spin_end[];

/* avx_spin(rounds): ymm0-15 <- avx_expect, then per round store them to
 * avx_got and compare with avx_expect (general registers only); returns 0
 * after `rounds` equal rounds, else the rounds left at the first difference. */
__asm__(
    ".text\n.globl avx_spin\n.type avx_spin,@function\navx_spin:\n"
    "  lea avx_expect(%rip), %rax\n"
    "  vmovdqu 0(%rax), %ymm0\n  vmovdqu 32(%rax), %ymm1\n  vmovdqu 64(%rax), %ymm2\n  vmovdqu 96(%rax), %ymm3\n"
    "  vmovdqu 128(%rax), %ymm4\n  vmovdqu 160(%rax), %ymm5\n  vmovdqu 192(%rax), %ymm6\n  vmovdqu 224(%rax), %ymm7\n"
    "  vmovdqu 256(%rax), %ymm8\n  vmovdqu 288(%rax), %ymm9\n  vmovdqu 320(%rax), %ymm10\n  vmovdqu 352(%rax), %ymm11\n"
    "  vmovdqu 384(%rax), %ymm12\n  vmovdqu 416(%rax), %ymm13\n  vmovdqu 448(%rax), %ymm14\n  vmovdqu 480(%rax), %ymm15\n"
    "1:\n  lea avx_got(%rip), %rax\n"
    "  vmovdqu %ymm0, 0(%rax)\n  vmovdqu %ymm1, 32(%rax)\n  vmovdqu %ymm2, 64(%rax)\n  vmovdqu %ymm3, 96(%rax)\n"
    "  vmovdqu %ymm4, 128(%rax)\n  vmovdqu %ymm5, 160(%rax)\n  vmovdqu %ymm6, 192(%rax)\n  vmovdqu %ymm7, 224(%rax)\n"
    "  vmovdqu %ymm8, 256(%rax)\n  vmovdqu %ymm9, 288(%rax)\n  vmovdqu %ymm10, 320(%rax)\n  vmovdqu %ymm11, 352(%rax)\n"
    "  vmovdqu %ymm12, 384(%rax)\n  vmovdqu %ymm13, 416(%rax)\n  vmovdqu %ymm14, 448(%rax)\n  vmovdqu %ymm15, 480(%rax)\n"
    "  lea avx_expect(%rip), %rsi\n  mov $64, %rcx\n"
    "2:\n  mov (%rsi), %r8\n  cmp (%rax), %r8\n  jne 3f\n  add $8, %rsi\n  add $8, %rax\n  dec %rcx\n  jnz 2b\n"
    "  dec %rdi\n  jnz 1b\n  xor %eax, %eax\n  ret\n"
    "3:\n  mov %rdi, %rax\n  ret\n"
    ".globl avx_spin_end\navx_spin_end:\n");

int main(void) {
    unsigned a, b, c, d;
    setvbuf(stdout, NULL, _IOLBF, 0);
    __cpuid(1, a, b, c, d);
    if (!(c & (1u << 28)) || !(c & (1u << 27))) {
        printf("XENSCOPE-AVX: no avx (cpuid 1 ecx=%#x)\n", c);
        for (;;) pause();
    }
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) {
        printf("XENSCOPE-AVX: no avx (xcr0=%#x)\n", lo);
        for (;;) pause();
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) avx_expect[i][j] = 0xa0000000u | (uint32_t)i << 8 | (uint32_t)j;
    printf("XENSCOPE-AVX: loaded loop=%p-%p xcr0=%#x\n", (void *)avx_spin, (void *)avx_spin_end, lo);
    long rounds = 0;
    time_t last = time(NULL);
    for (;;) {
        long left = avx_spin(200000);
        rounds += 200000 - left;
        if (left) {
            for (int i = 0; i < 16; i++) {
                if (!memcmp(avx_got[i], avx_expect[i], 32)) continue;
                printf("XENSCOPE-AVX: changed ymm%d v8_int32 = {", i);
                for (int j = 0; j < 8; j++) printf("%s%#x", j ? ", " : "", avx_got[i][j]);
                printf("}\n");
            }
            memcpy(avx_expect, avx_got, sizeof avx_expect);
        }
        time_t now = time(NULL);
        if (now - last >= 5) {
            printf("XENSCOPE-AVX: intact rounds=%ld\n", rounds);
            last = now;
        }
    }
}
