/* Small program for ELF header tests: a note, a few sections, a symbol. */
#include <stdio.h>

int counter = 3;

int main(int argc, char **argv) {
    (void)argv;
    printf("hello %d\n", counter + argc);
    return 0;
}
