/* Simulates a plugin that chatters on load: a well-formed fake JSON-RPC frame on stdout and text
   on stderr, as if to hijack a host speaking JSON-RPC over stdio; then it is invalid (NULL
   factory), so loading fails cleanly. */
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#define BODY "{\"jsonrpc\":\"2.0\",\"method\":\"window/logMessage\"," \
             "\"params\":{\"type\":1,\"message\":\"HIJACK\"}}"

__attribute__((constructor)) static void chatter(void) {
    static const char frame[] = "Content-Length: 85\r\n\r\n" BODY;
    static const char note[] = "pluginary-noise: stderr chatter\n";
    _Static_assert(sizeof BODY - 1 == 85, "Content-Length must match the body");
    (void)!write(1, frame, sizeof frame - 1);
    (void)!write(2, note, sizeof note - 1);
}

bool ModuleEntry(void *handle) { (void)handle; return true; }
bool ModuleExit(void) { return true; }
void *GetPluginFactory(void) { return NULL; }
