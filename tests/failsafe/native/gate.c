/* Simulates a plugin that loads for as long as a test wants: its factory call waits while the file
   named by PLUGINARY_TEST_GATE exists, then fails (no factory, so the plugin is recorded failed).
   A test holds a scan at a known point this way (the probe loading this bundle), without timing;
   with the variable unset or the file gone it fails at once. */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }

void *GetPluginFactory(void) {
    const char *gate = getenv("PLUGINARY_TEST_GATE");
    while (gate != NULL && access(gate, F_OK) == 0)
        usleep(1000);
    return NULL;
}
