/* Simulates a plugin that leaves processes behind when asked for its factory, all named
   "pluginary-gc", holding stdout/stderr open and sleeping 600 s: a grandchild and a child of its
   own inside the probe's process group, and a grandchild escaped from it with setsid(). Then the
   factory is NULL, so loading fails and the probe exits normally, leaving the three behind. */
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
        if (fork() == 0)
            linger(ready[1]);
        linger(ready[1]);
    }
    if (fork() == 0) {
        setsid();
        linger(ready[1]);
    }
    close(ready[1]);
    (void)!read(ready[0], &byte, 1); /* end of file once all three are ready */
    close(ready[0]);
    return NULL;
}
