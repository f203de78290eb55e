/* Simulates a plugin that starts helpers and then never returns from the factory call: a child in
   the probe's process group and a grandchild escaped from it with setsid(), both named
   "pluginary-ht", printing "pluginary-ht <pid>" to stderr and sleeping forever. The probe then
   hangs until its timeout kills it; a test reads the pids from the plugin's output tail. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

static void linger(int ready) {
    char line[64];
    prctl(PR_SET_NAME, "pluginary-ht");
    (void)!write(2, line, snprintf(line, sizeof line, "pluginary-ht %d\n", getpid()));
    close(ready); /* named and recorded: a test can now find it */
    for (;;)
        pause();
}

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }

void *GetPluginFactory(void) {
    static const char note[] = "pluginary-hang-tree: hanging\n";
    int ready[2];
    char byte;
    if (pipe(ready) != 0)
        return NULL;
    if (fork() == 0) {
        close(ready[0]);
        if (fork() == 0) {
            setsid();
            linger(ready[1]);
        }
        linger(ready[1]);
    }
    close(ready[1]);
    (void)!read(ready[0], &byte, 1); /* end of file once both are ready */
    close(ready[0]);
    (void)!write(2, note, sizeof note - 1);
    for (;;)
        pause();
}
