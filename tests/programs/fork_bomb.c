/* A program that forks without end, the way a student's server does when fork() sits
 * in a loop with no exit in the child. Every process keeps forking and never exits,
 * so only a limit on processes stops it. tests/programs.rs checks that the sandbox
 * holds it to the process limit and that the verdict says what it is doing. */
#include <unistd.h>

int main(void) {
    for (;;) fork();
}
