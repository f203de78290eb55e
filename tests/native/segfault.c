/* Simulates a plugin that crashes when the host asks for its factory: SIGSEGV in the probe. */
#include <stdbool.h>
#include <stddef.h>

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }

void *GetPluginFactory(void) {
    void **volatile nowhere = NULL; /* volatile: the compiler cannot prove it NULL and trap */
    return *nowhere;
}
