/* Simulates a plugin that never returns from the factory call: the probe hangs until killed. */
#include <stdbool.h>
#include <unistd.h>

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }

void *GetPluginFactory(void) {
    static const char note[] = "pluginary-hang: hanging\n"; /* lets a test see the hang began */
    (void)!write(2, note, sizeof note - 1);
    for (;;)
        pause();
}
