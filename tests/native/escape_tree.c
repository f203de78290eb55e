/* Simulates a plugin whose leftover escapes the probe's process group with setsid() and then
   forks a child of its own, so the escaped subtree is two levels deep; both are named
   "pluginary-gc" and sleep 600 s. Then the factory is NULL, so the probe exits normally. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

static void linger(int ready) {
    char line[64];
    prctl(PR_SET_NAME, "pluginary-gc");
    (void)!write(2, line, snprintf(line, sizeof line, "pluginary-gc %d\n", getpid()));
    close(ready); /* named and recorded: a test can now find it */
    sleep(600);
    _exit(0);
}

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }

void *GetPluginFactory(void) {
    int ready[2];
    char byte;
    if (pipe(ready) != 0)
        return NULL;
    if (fork() == 0) {
        setsid();
        if (fork() == 0)
            linger(ready[1]);
        linger(ready[1]);
    }
    close(ready[1]);
    (void)!read(ready[0], &byte, 1); /* end of file once both are ready */
    close(ready[0]);
    return NULL;
}
