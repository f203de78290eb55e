/* The hostile plugin zoo: one VST3 module in C whose single class misbehaves in one way, at one
   stage of a host's life with it. tests/zoo_bundles.py compiles it once per bundle with:

     -DZOO_NAME="zoo-<behaviour>-<stage>"  the bundle's stem and its class's plugin name;
     -DZOO_BEHAVIOUR=behave_<behaviour>    the function below that misbehaves;
     -DZOO_STAGE=ZOO_<stage>               where it fires (see README.md):
       ZOO_ENUMERATE  inside GetPluginFactory, before the host knows any class;
       ZOO_LOAD       on IComponent::getControllerClassId, which a JUCE host (pedalboard) calls
                      only when it instantiates the class for load_plugin, never while it merely
                      lists classes (that creates, initializes, asks for buses and terminates a
                      component, but never looks for its controller);
       ZOO_UNLOAD     in ModuleExit, which a JUCE host calls when it destroys the last instance
                      of the module's classes (pedalboard: when the plugin object is freed);
       ZOO_CHANNELS   in IAudioProcessor::setBusArrangements, when the host asks for more than
                      two channels: at this stage the class takes any layout with as many
                      outputs as inputs (one to two channels work), so a host finding the
                      channel counts it accepts meets the behaviour only after the first ones;
       ZOO_NEVER      nowhere: zoo-ok, the well-behaved control.

   Unless its behaviour ends the process, the class is a working stereo pass-through effect
   (IComponent, IAudioProcessor and IEditController on one object, no parameters), so pedalboard
   loads it and a behaviour that "returns normally" leaves a plugin that loads fine.

   Multi-class bundles (issue 16) add:

     -DZOO_CLASSES=N   N classes, named "<ZOO_NAME> 1" .. "<ZOO_NAME> N" (default 1: one class
                       named ZOO_NAME, exactly as before);
     -DZOO_CULPRIT=K   the class (1-based) whose load fires the behaviour; 0: every class, each
                       once (default 1);
     -DZOO_CHATTY=J    the class (1-based) that prints "zoo-chatty <name>" to stdout (buffered
                       C stdio) and to stderr (a direct write) when it loads; 0: none (default).

   With ZOO_TRACE set in the environment every call from the host is logged to stderr. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZOO_NEVER 0
#define ZOO_ENUMERATE 1
#define ZOO_LOAD 2
#define ZOO_UNLOAD 3
#define ZOO_CHANNELS 4

#if !defined(ZOO_NAME) || !defined(ZOO_BEHAVIOUR) || !defined(ZOO_STAGE)
#error "build with -DZOO_NAME=... -DZOO_BEHAVIOUR=behave_... -DZOO_STAGE=ZOO_..."
#endif
#ifndef ZOO_CLASSES
#define ZOO_CLASSES 1
#endif
#ifndef ZOO_CULPRIT
#define ZOO_CULPRIT 1
#endif
#ifndef ZOO_CHATTY
#define ZOO_CHATTY 0
#endif
#ifndef ZOO_INPUT_CHANNELS /* the main input bus's channels: 1 makes a mono-in, stereo-out effect */
#define ZOO_INPUT_CHANNELS 2
#endif

#define EXPORT __attribute__((visibility("default")))
#define UNUSED __attribute__((unused))

/* ---- VST3 ABI (Linux: COM_COMPATIBLE is 0, so a TUID holds its words big-endian) ---- */

typedef int32_t tresult;
typedef char TUID[16];
typedef uint16_t String128[128];

enum { kResultOk = 0, kResultTrue = 0, kNoInterface = -1, kResultFalse = 1,
       kInvalidArgument = 2, kNotImplemented = 3 };
enum { kManyInstances = 0x7FFFFFFF };
enum { kAudio = 0, kEvent = 1 };            /* MediaType */
enum { kInput = 0, kOutput = 1 };           /* BusDirection */
enum { kMain = 0 };                         /* BusType */
enum { kDefaultActive = 1 };                /* BusInfo flags */
enum { kSample32 = 0 };
#define kStereo 0x3ULL                      /* SpeakerArrangement: left | right */
/* The main input's arrangement: stereo, or (ZOO_INPUT_CHANNELS 1) mono, the centre speaker. */
#define kInputArrangement (ZOO_INPUT_CHANNELS == 1 ? 0x80000ULL : kStereo)
/* The main buses' layouts, input then output (ZOO_CHANNELS: whatever the host set last). */
static uint64_t arrangements[2] = {kInputArrangement, kStereo};

#define UID(a, b, c, d) {                                                                     \
        (char)((a) >> 24), (char)((a) >> 16), (char)((a) >> 8), (char)(a),                    \
        (char)((b) >> 24), (char)((b) >> 16), (char)((b) >> 8), (char)(b),                    \
        (char)((c) >> 24), (char)((c) >> 16), (char)((c) >> 8), (char)(c),                    \
        (char)((d) >> 24), (char)((d) >> 16), (char)((d) >> 8), (char)(d) }

static const TUID FUnknown_iid = UID(0x00000000, 0x00000000, 0xC0000000, 0x00000046);
static const TUID IPluginFactory_iid = UID(0x7A4D811C, 0x52114A1F, 0xAED9D2EE, 0x0B43BF9F);
static const TUID IPluginBase_iid = UID(0x22888DDB, 0x156E45AE, 0x8358B348, 0x08190625);
static const TUID IComponent_iid = UID(0xE831FF31, 0xF2D54301, 0x928EBBEE, 0x25697802);
static const TUID IAudioProcessor_iid = UID(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D);
static const TUID IEditController_iid = UID(0xDCD7BBE3, 0x7742448D, 0xA874AACC, 0x979C759E);

typedef struct {
    char vendor[64];
    char url[256];
    char email[128];
    int32_t flags;
} PFactoryInfo;

typedef struct {
    TUID cid;
    int32_t cardinality;
    char category[32];
    char name[64];
} PClassInfo;

typedef struct {
    int32_t mediaType;
    int32_t direction;
    int32_t channelCount;
    String128 name;
    int32_t busType;
    uint32_t flags;
} BusInfo;

typedef struct {
    int32_t numChannels;
    uint64_t silenceFlags;
    float **channelBuffers32;
} AudioBusBuffers;

typedef struct {
    int32_t processMode;
    int32_t symbolicSampleSize;
    int32_t numSamples;
    int32_t numInputs;
    int32_t numOutputs;
    AudioBusBuffers *inputs;
    AudioBusBuffers *outputs;
    void *inputParameterChanges, *outputParameterChanges, *inputEvents, *outputEvents;
    void *processContext;
} ProcessData;

#define FUNKNOWN_METHODS                                                                      \
    tresult (*queryInterface)(void *self, const TUID iid, void **obj);                        \
    uint32_t (*addRef)(void *self);                                                           \
    uint32_t (*release)(void *self);
#define IPLUGINBASE_METHODS                                                                   \
    FUNKNOWN_METHODS                                                                          \
    tresult (*initialize)(void *self, void *context);                                         \
    tresult (*terminate)(void *self);

typedef struct {
    FUNKNOWN_METHODS
    tresult (*getFactoryInfo)(void *self, PFactoryInfo *info);
    int32_t (*countClasses)(void *self);
    tresult (*getClassInfo)(void *self, int32_t index, PClassInfo *info);
    tresult (*createInstance)(void *self, const char *cid, const char *iid, void **obj);
} IPluginFactoryVtbl;

typedef struct {
    IPLUGINBASE_METHODS
    tresult (*getControllerClassId)(void *self, TUID cid);
    tresult (*setIoMode)(void *self, int32_t mode);
    int32_t (*getBusCount)(void *self, int32_t type, int32_t dir);
    tresult (*getBusInfo)(void *self, int32_t type, int32_t dir, int32_t index, BusInfo *bus);
    tresult (*getRoutingInfo)(void *self, void *in, void *out);
    tresult (*activateBus)(void *self, int32_t type, int32_t dir, int32_t index, uint8_t state);
    tresult (*setActive)(void *self, uint8_t state);
    tresult (*setState)(void *self, void *stream);
    tresult (*getState)(void *self, void *stream);
} IComponentVtbl;

typedef struct {
    FUNKNOWN_METHODS
    tresult (*setBusArrangements)(void *self, uint64_t *ins, int32_t nins, uint64_t *outs,
                                  int32_t nouts);
    tresult (*getBusArrangement)(void *self, int32_t dir, int32_t index, uint64_t *arrangement);
    tresult (*canProcessSampleSize)(void *self, int32_t size);
    uint32_t (*getLatencySamples)(void *self);
    tresult (*setupProcessing)(void *self, void *setup);
    tresult (*setProcessing)(void *self, uint8_t state);
    tresult (*process)(void *self, ProcessData *data);
    uint32_t (*getTailSamples)(void *self);
} IAudioProcessorVtbl;

typedef struct {
    IPLUGINBASE_METHODS
    tresult (*setComponentState)(void *self, void *stream);
    tresult (*setState)(void *self, void *stream);
    tresult (*getState)(void *self, void *stream);
    int32_t (*getParameterCount)(void *self);
    tresult (*getParameterInfo)(void *self, int32_t index, void *info);
    tresult (*getParamStringByValue)(void *self, uint32_t id, double value, String128 text);
    tresult (*getParamValueByString)(void *self, uint32_t id, uint16_t *text, double *value);
    double (*normalizedParamToPlain)(void *self, uint32_t id, double value);
    double (*plainParamToNormalized)(void *self, uint32_t id, double value);
    double (*getParamNormalized)(void *self, uint32_t id);
    tresult (*setParamNormalized)(void *self, uint32_t id, double value);
    tresult (*setComponentHandler)(void *self, void *handler);
    void *(*createView)(void *self, const char *name);
} IEditControllerVtbl;

/* ---- helpers ---- */

static void note(const char *text) {
    (void)!write(2, text, strlen(text));
}

static void trace(const char *call) {
    static int enabled = -1;
    if (enabled < 0)
        enabled = getenv("ZOO_TRACE") != NULL;
    if (enabled) {
        char line[160];
        int n = snprintf(line, sizeof line, "zoo-trace %s %s pid=%d tid=%d\n", ZOO_NAME, call,
                         getpid(), gettid());
        (void)!write(2, line, (size_t)n);
    }
}

static void sleep_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
}

static void hang(void) {
    for (;;)
        pause();
}

/* Names a leftover "pluginary-zoo" and prints "pluginary-zoo <pid>" to stderr so a test can find
   and kill it, then closes `ready` so whoever forked it knows the line is written. */
static void linger(int ready) {
    char line[64];
    prctl(PR_SET_NAME, "pluginary-zoo");
    (void)!write(2, line, (size_t)snprintf(line, sizeof line, "pluginary-zoo %d\n", getpid()));
    close(ready);
    hang();
}

/* Waits until every holder of the pipe's write end closed it (each leftover is named). */
static void await_ready(int ready[2]) {
    char byte;
    close(ready[1]);
    (void)!read(ready[0], &byte, 1);
    close(ready[0]);
}

/* getppid() and getpgid() of a re-parented or vanished process can be 1 or -1: signalling those
   (kill(-1, ...) above all) would hit the whole machine. The tests run as root. */
static bool is_target(pid_t pid) {
    return pid > 1;
}

/* ---- behaviours: each is called once, at the bundle's stage ---- */

UNUSED static void behave_ok(void) {}

UNUSED static void behave_kill_parent(void) {
    if (is_target(getppid()))
        kill(getppid(), SIGKILL);
}

UNUSED static void behave_term_parent_group(void) {
    pid_t group = getpgid(getppid());
    if (is_target(getppid()) && is_target(group))
        kill(-group, SIGTERM);
}

UNUSED static void behave_stop_parent(void) {
    if (is_target(getppid()))
        kill(getppid(), SIGSTOP);
}

UNUSED static void behave_join_parent_group(void) {
    /* Slip into the parent's group, where a kill of our own group cannot find us. */
    pid_t group = getpgid(getppid());
    prctl(PR_SET_PDEATHSIG, 0);
    if (is_target(group) && setpgid(0, group) == 0)
        note("pluginary-zoo: joined the parent's group, hanging\n");
    hang();
}

UNUSED static void behave_daemon(void) {
    int ready[2];
    prctl(PR_SET_PDEATHSIG, 0);
    if (pipe(ready) != 0)
        return;
    pid_t middle = fork();
    if (middle == 0) {
        close(ready[0]);
        setsid();
        if (fork() == 0)
            linger(ready[1]);
        _exit(0);
    }
    await_ready(ready);
    if (middle > 0)
        waitpid(middle, NULL, 0); /* as a daemonizer does: only the daemon remains */
}

UNUSED static void behave_exit0(void) { exit(0); }
UNUSED static void behave_exit3(void) { exit(3); }

UNUSED static void behave_exec_true(void) {
    execl("/bin/true", "true", (char *)NULL);
    note("pluginary-zoo: exec failed\n");
}

UNUSED static void behave_abort(void) { abort(); }
UNUSED static void behave_self_sigkill(void) { raise(SIGKILL); }
UNUSED static void behave_self_sigstop(void) { raise(SIGSTOP); }

UNUSED static void behave_segfault(void) {
    /* Both volatile: the compiler may neither prove the pointer NULL nor drop the store. */
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}

UNUSED static void behave_hang(void) {
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    note("pluginary-zoo: hanging\n");
    hang();
}

UNUSED static void behave_spin(void) {
    /* A hang that makes no system call and ignores polite signals; only SIGKILL ends it. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    note("pluginary-zoo: spinning\n");
    for (volatile bool forever = true; forever;) {
    }
}

UNUSED static void behave_slow(void) {
    const char *text = getenv("ZOO_SLEEP_MS");
    sleep_ms(text ? atol(text) : 1500);
}

UNUSED static void behave_memory_hog(void) {
    /* Touch every page: untouched allocations cost nothing. The cap (ZOO_HOG_MB, default 4096)
       is only a safety net for a machine where nothing limits the process: the tests must not
       summon the OOM killer on a shared machine. */
    const char *text = getenv("ZOO_HOG_MB");
    long cap = text ? atol(text) : 4096, chunk = 16, total = 0;
    char line[96];
    for (; total < cap; total += chunk) {
        char *block = malloc((size_t)chunk << 20);
        if (block == NULL) {
            snprintf(line, sizeof line, "pluginary-zoo: malloc failed after %ld MB\n", total);
            note(line);
            abort(); /* what an uncaught std::bad_alloc does, via std::terminate */
        }
        memset(block, 0x5A, (size_t)chunk << 20);
    }
    snprintf(line, sizeof line, "pluginary-zoo: memory cap of %ld MB reached\n", cap);
    note(line);
    abort();
}

UNUSED static void behave_output_flood(void) {
    /* Without end on purpose, but capped (ZOO_FLOOD_MB per stream, default 256) so that a host
       which limits nothing cannot fill the disk of the machine running the tests. */
    static char block[65536];
    const char *text = getenv("ZOO_FLOOD_MB");
    long long cap = (text ? atoll(text) : 256) << 20, written[2] = {0, 0};
    bool open[2] = {true, true};
    memset(block, 'z', sizeof block);
    for (int i = 0; i < (int)sizeof block; i += 64)
        block[i] = '\n';
    signal(SIGPIPE, SIG_IGN); /* a closed pipe must fail the write, not kill us, to stop */
    while (open[0] || open[1]) {
        for (int stream = 0; stream < 2; ++stream) {
            if (!open[stream])
                continue;
            ssize_t n = write(1 + stream, block, sizeof block);
            if (n <= 0 || (written[stream] += n) >= cap)
                open[stream] = false;
        }
    }
    hang();
}

static void write_all_nonblocking(int fd, const char *data, size_t size) {
    /* Small writes, each only while the descriptor has room, so that a full pipe whose reader
       is busy elsewhere makes us move on instead of blocking forever. */
    while (size > 0) {
        struct pollfd ready = {fd, POLLOUT, 0};
        if (poll(&ready, 1, 0) != 1 || !(ready.revents & POLLOUT))
            return;
        ssize_t n = write(fd, data, size < 4096 ? size : 4096);
        if (n <= 0)
            return;
        data += n;
        size -= (size_t)n;
    }
}

UNUSED static void behave_garbage_reports(void) {
    static const char *const lines[] = {
        "42\n",
        "{\"event\":\"result\"}\n",
        "{\"event\":\"classes\",\"names\":5}\n",
        "{\"event\":\"result\",\"class\":\"zoo-forged\",\"status\":\"ok\"}\n",
        "{\"event\":\"checked\",\"class\":\"zoo-forged\",\"facts\":NaN}\n",
        "\xff\xfe invalid UTF-8 \xc3\x28\n",
        "{\"event\":\"begin\",\"class\":\n",
    };
    enum { DEPTH = 100000, BIG = 1 << 20 };
    char *deep = malloc(2 * DEPTH + 1), *big = malloc(BIG);
    if (deep == NULL || big == NULL)
        abort();
    /* Nested deeper than any recursive JSON parser's stack: Python's raises RecursionError. */
    memset(deep, '[', DEPTH);
    memset(deep + DEPTH, ']', DEPTH);
    deep[2 * DEPTH] = '\n';
    memset(big, 'x', BIG); /* a 1 MB line that never ends */
    big[0] = '{';
    for (int fd = 3; fd < 1024; ++fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
            continue;
        for (size_t i = 0; i < sizeof lines / sizeof *lines; ++i)
            write_all_nonblocking(fd, lines[i], strlen(lines[i]));
        write_all_nonblocking(fd, deep, 2 * DEPTH + 1);
        write_all_nonblocking(fd, big, BIG);
    }
    free(deep);
    free(big);
}

UNUSED static void behave_close_fds(void) {
    for (int fd = 3; fd < 1024; ++fd)
        close(fd);
}

static void *exit_soon(void *unused) {
    (void)unused;
    sleep_ms(50);
    exit(0);
}

UNUSED static void behave_background_exit(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, exit_soon, NULL) != 0)
        return;
    /* The calling thread is busy elsewhere (here: blocked) when the process exits under it. */
    hang();
}

UNUSED static void behave_fork_many(void) {
    int ready[2];
    if (pipe(ready) != 0)
        return;
    for (int i = 0; i < 50; ++i) {
        if (fork() == 0) {
            close(ready[0]);
            linger(ready[1]);
        }
    }
    await_ready(ready);
}

/* The class whose load fires the behaviour (0-based), for behaviours that care. */
static int misbehaving_class;

/* Multi-class bundles only: every class but the first leaves a file named after its process in
   the folder $ZOO_RENDEZVOUS, then waits (without end: only a time limit stops it) until
   $ZOO_RENDEZVOUS_COUNT (default 2) processes have arrived. It loads only if that many of its
   classes are being loaded at once, by different processes. */
UNUSED static void behave_rendezvous(void) {
    const char *folder = getenv("ZOO_RENDEZVOUS"), *text = getenv("ZOO_RENDEZVOUS_COUNT");
    int wanted = text ? atoi(text) : 2;
    char path[512];
    if (misbehaving_class == 0 || folder == NULL)
        return;
    snprintf(path, sizeof path, "%s/%d", folder, getpid());
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
    for (;;) {
        int arrived = 0;
        DIR *dir = opendir(folder);
        for (struct dirent *entry; dir != NULL && (entry = readdir(dir)) != NULL;)
            arrived += entry->d_name[0] != '.';
        if (dir != NULL)
            closedir(dir);
        if (arrived >= wanted)
            return;
        sleep_ms(10);
    }
}

UNUSED static void misbehave(int index, const char *where) {
    static bool done[ZOO_CLASSES]; /* once per class per process: the host may call again */
    if (done[index])
        return;
    done[index] = true;
    misbehaving_class = index;
    trace(where);
    ZOO_BEHAVIOUR();
}

/* ---- the plugin: IComponent, IAudioProcessor and IEditController on one object ---- */

typedef struct {
    const IComponentVtbl *component;
    const IAudioProcessorVtbl *processor;
    const IEditControllerVtbl *controller;
    uint32_t refs;
    int index; /* which class */
} Plugin;

#define FROM(member, self) ((Plugin *)((char *)(self) - offsetof(Plugin, member)))

static TUID class_ids[ZOO_CLASSES];
static char class_names[ZOO_CLASSES][64];

static void make_class_ids(void) {
    for (int index = 0; index < ZOO_CLASSES; ++index) {
        char *name = class_names[index];
        if (ZOO_CLASSES == 1)
            snprintf(name, 64, "%s", ZOO_NAME);
        else
            snprintf(name, 64, "%s %d", ZOO_NAME, index + 1);
        /* FNV-1a of the name, spread over 16 bytes: a distinct class id per class. */
        uint64_t hash = 0xcbf29ce484222325ULL;
        for (const char *c = name; *c; ++c)
            hash = (hash ^ (unsigned char)*c) * 0x100000001b3ULL;
        for (int i = 0; i < 16; ++i) {
            class_ids[index][i] = (char)(hash >> (8 * (i % 8)));
            if (i == 7)
                hash = hash * 0x100000001b3ULL + 0x9E3779B97F4A7C15ULL;
        }
    }
}

static tresult plugin_query(Plugin *plugin, const TUID iid, void **obj) {
    if (!memcmp(iid, FUnknown_iid, 16) || !memcmp(iid, IPluginBase_iid, 16) ||
        !memcmp(iid, IComponent_iid, 16))
        *obj = &plugin->component;
    else if (!memcmp(iid, IAudioProcessor_iid, 16))
        *obj = &plugin->processor;
    else if (!memcmp(iid, IEditController_iid, 16))
        *obj = &plugin->controller;
    else {
        *obj = NULL;
        return kNoInterface;
    }
    __atomic_add_fetch(&plugin->refs, 1, __ATOMIC_SEQ_CST);
    return kResultOk;
}

static uint32_t plugin_release(Plugin *plugin) {
    uint32_t refs = __atomic_sub_fetch(&plugin->refs, 1, __ATOMIC_SEQ_CST);
    if (refs == 0) {
        trace("destroy");
        free(plugin);
    }
    return refs;
}

#define FUNKNOWN_IMPL(prefix, member)                                                         \
    static tresult prefix##_query(void *self, const TUID iid, void **obj) {                   \
        return plugin_query(FROM(member, self), iid, obj);                                    \
    }                                                                                         \
    static uint32_t prefix##_add_ref(void *self) {                                            \
        return __atomic_add_fetch(&FROM(member, self)->refs, 1, __ATOMIC_SEQ_CST);            \
    }                                                                                         \
    static uint32_t prefix##_release(void *self) { return plugin_release(FROM(member, self)); }

FUNKNOWN_IMPL(component, component)
FUNKNOWN_IMPL(processor, processor)
FUNKNOWN_IMPL(controller, controller)

static tresult base_initialize(void *self, void *context) {
    (void)self, (void)context;
    trace("initialize");
    return kResultOk;
}

static tresult base_terminate(void *self) {
    (void)self;
    trace("terminate");
    return kResultOk;
}

static tresult component_get_controller_class_id(void *self, TUID cid) {
    int index = FROM(component, self)->index;
    trace("IComponent::getControllerClassId");
    if (index + 1 == ZOO_CHATTY) {
        char line[128];
        printf("zoo-chatty %s on stdout\n", class_names[index]); /* buffered: the host flushes */
        snprintf(line, sizeof line, "zoo-chatty %s on stderr\n", class_names[index]);
        note(line);
    }
#if ZOO_STAGE == ZOO_LOAD
    if (ZOO_CULPRIT == 0 || index + 1 == ZOO_CULPRIT)
        misbehave(index, "misbehave at load");
#endif
    memset(cid, 0, 16); /* no separate controller: the host asks this object for one */
    return kResultFalse;
}

static tresult component_set_io_mode(void *self, int32_t mode) {
    (void)self, (void)mode;
    return kNotImplemented;
}

static int32_t component_get_bus_count(void *self, int32_t type, int32_t dir) {
    (void)self, (void)dir;
    trace("IComponent::getBusCount");
    return type == kAudio ? 1 : 0;
}

static tresult component_get_bus_info(void *self, int32_t type, int32_t dir, int32_t index,
                                      BusInfo *bus) {
    (void)self;
    trace("IComponent::getBusInfo");
    if (type != kAudio || index != 0)
        return kInvalidArgument;
    memset(bus, 0, sizeof *bus);
    bus->mediaType = kAudio;
    bus->direction = dir;
    bus->channelCount = __builtin_popcountll(arrangements[dir == kInput ? 0 : 1]);
    bus->name[0] = 'M', bus->name[1] = 'a', bus->name[2] = 'i', bus->name[3] = 'n';
    bus->busType = kMain;
    bus->flags = kDefaultActive;
    return kResultOk;
}

static tresult component_get_routing_info(void *self, void *in, void *out) {
    (void)self, (void)in, (void)out;
    return kNotImplemented;
}

static tresult component_activate_bus(void *self, int32_t type, int32_t dir, int32_t index,
                                      uint8_t state) {
    (void)self, (void)dir, (void)state;
    return type == kAudio && index == 0 ? kResultOk : kInvalidArgument;
}

static tresult component_set_active(void *self, uint8_t state) {
    (void)self, (void)state;
    trace("IComponent::setActive");
    return kResultOk;
}

static tresult stream_ignored(void *self, void *stream) {
    (void)self, (void)stream;
    return kResultOk; /* no state: nothing to read or write */
}

static const IComponentVtbl component_vtbl = {
    component_query, component_add_ref, component_release, base_initialize, base_terminate,
    component_get_controller_class_id, component_set_io_mode, component_get_bus_count,
    component_get_bus_info, component_get_routing_info, component_activate_bus,
    component_set_active, stream_ignored, stream_ignored,
};

static tresult processor_set_bus_arrangements(void *self, uint64_t *ins, int32_t nins,
                                              uint64_t *outs, int32_t nouts) {
    trace("IAudioProcessor::setBusArrangements");
#if ZOO_STAGE == ZOO_CHANNELS
    if (nins != 1 || nouts != 1 || ins[0] != outs[0] || outs[0] == 0)
        return kResultFalse;
    if (__builtin_popcountll(outs[0]) > 2)
        misbehave(FROM(processor, self)->index, "misbehave at more than two channels");
    arrangements[0] = arrangements[1] = outs[0];
    return kResultTrue;
#else
    (void)self;
    bool ours = nins == 1 && nouts == 1 && ins[0] == kInputArrangement && outs[0] == kStereo;
    return ours ? kResultTrue : kResultFalse;
#endif
}

static tresult processor_get_bus_arrangement(void *self, int32_t dir, int32_t index,
                                             uint64_t *arrangement) {
    (void)self;
    if (index != 0)
        return kInvalidArgument;
    *arrangement = arrangements[dir == kInput ? 0 : 1];
    return kResultOk;
}

static tresult processor_can_process_sample_size(void *self, int32_t size) {
    (void)self;
    return size == kSample32 ? kResultTrue : kResultFalse;
}

static uint32_t processor_zero(void *self) {
    (void)self;
    return 0; /* latency and tail */
}

static tresult processor_setup_processing(void *self, void *setup) {
    (void)self, (void)setup;
    trace("IAudioProcessor::setupProcessing");
    return kResultOk;
}

static tresult processor_set_processing(void *self, uint8_t state) {
    (void)self, (void)state;
    return kResultOk;
}

static tresult processor_process(void *self, ProcessData *data) {
    (void)self;
    for (int32_t bus = 0; bus < data->numOutputs; ++bus) {
        AudioBusBuffers *out = &data->outputs[bus];
        for (int32_t channel = 0; channel < out->numChannels; ++channel) {
            float *to = out->channelBuffers32[channel];
            bool from_input = bus < data->numInputs && channel < data->inputs[bus].numChannels;
            if (from_input)
                memmove(to, data->inputs[bus].channelBuffers32[channel],
                        sizeof(float) * (size_t)data->numSamples);
            else
                memset(to, 0, sizeof(float) * (size_t)data->numSamples);
        }
        out->silenceFlags = 0;
    }
    return kResultOk;
}

static const IAudioProcessorVtbl processor_vtbl = {
    processor_query, processor_add_ref, processor_release, processor_set_bus_arrangements,
    processor_get_bus_arrangement, processor_can_process_sample_size, processor_zero,
    processor_setup_processing, processor_set_processing, processor_process, processor_zero,
};

static int32_t controller_get_parameter_count(void *self) {
    (void)self;
    return 0;
}

static tresult controller_get_parameter_info(void *self, int32_t index, void *info) {
    (void)self, (void)index, (void)info;
    return kInvalidArgument;
}

static tresult controller_get_param_string_by_value(void *self, uint32_t id, double value,
                                                    String128 text) {
    (void)self, (void)id, (void)value, (void)text;
    return kInvalidArgument;
}

static tresult controller_get_param_value_by_string(void *self, uint32_t id, uint16_t *text,
                                                    double *value) {
    (void)self, (void)id, (void)text, (void)value;
    return kInvalidArgument;
}

static double controller_identity(void *self, uint32_t id, double value) {
    (void)self, (void)id;
    return value;
}

static double controller_get_param_normalized(void *self, uint32_t id) {
    (void)self, (void)id;
    return 0.0;
}

static tresult controller_set_param_normalized(void *self, uint32_t id, double value) {
    (void)self, (void)id, (void)value;
    return kInvalidArgument;
}

static tresult controller_set_component_handler(void *self, void *handler) {
    (void)self, (void)handler;
    return kResultOk; /* never called back, so never retained */
}

static void *controller_create_view(void *self, const char *name) {
    (void)self, (void)name;
    return NULL;
}

static const IEditControllerVtbl controller_vtbl = {
    controller_query, controller_add_ref, controller_release, base_initialize, base_terminate,
    stream_ignored, stream_ignored, stream_ignored, controller_get_parameter_count,
    controller_get_parameter_info, controller_get_param_string_by_value,
    controller_get_param_value_by_string, controller_identity, controller_identity,
    controller_get_param_normalized, controller_set_param_normalized,
    controller_set_component_handler, controller_create_view,
};

/* ---- the factory ---- */

static tresult factory_query(void *self, const TUID iid, void **obj) {
    trace("IPluginFactory::queryInterface");
    if (!memcmp(iid, FUnknown_iid, 16) || !memcmp(iid, IPluginFactory_iid, 16)) {
        *obj = self;
        return kResultOk;
    }
    *obj = NULL;
    return kNoInterface;
}

static uint32_t factory_ref(void *self) {
    (void)self;
    return 1; /* static: lives as long as the module */
}

static tresult factory_get_factory_info(void *self, PFactoryInfo *info) {
    (void)self;
    trace("IPluginFactory::getFactoryInfo");
    memset(info, 0, sizeof *info);
    strcpy(info->vendor, "Pluginary Zoo");
    strcpy(info->url, "https://example.invalid/zoo");
    strcpy(info->email, "zoo@example.invalid");
    return kResultOk;
}

static int32_t factory_count_classes(void *self) {
    (void)self;
    trace("IPluginFactory::countClasses");
    return ZOO_CLASSES;
}

static tresult factory_get_class_info(void *self, int32_t index, PClassInfo *info) {
    (void)self;
    trace("IPluginFactory::getClassInfo");
    if (index < 0 || index >= ZOO_CLASSES)
        return kInvalidArgument;
    memset(info, 0, sizeof *info);
    memcpy(info->cid, class_ids[index], 16);
    info->cardinality = kManyInstances;
    strcpy(info->category, "Audio Module Class");
    snprintf(info->name, sizeof info->name, "%s", class_names[index]);
    return kResultOk;
}

static tresult factory_create_instance(void *self, const char *cid, const char *iid, void **obj) {
    (void)self;
    trace("IPluginFactory::createInstance");
    *obj = NULL;
    int index = 0;
    while (index < ZOO_CLASSES && memcmp(cid, class_ids[index], 16) != 0)
        ++index;
    if (index == ZOO_CLASSES)
        return kNoInterface;
    Plugin *plugin = calloc(1, sizeof *plugin);
    if (plugin == NULL)
        return kResultFalse;
    plugin->index = index;
    plugin->component = &component_vtbl;
    plugin->processor = &processor_vtbl;
    plugin->controller = &controller_vtbl;
    tresult result = plugin_query(plugin, iid, obj);
    if (result != kResultOk)
        free(plugin);
    return result;
}

static const IPluginFactoryVtbl factory_vtbl = {
    factory_query,       factory_ref,           factory_ref,
    factory_get_factory_info, factory_count_classes, factory_get_class_info,
    factory_create_instance,
};

static struct {
    const IPluginFactoryVtbl *vtbl;
} factory = {&factory_vtbl};

EXPORT bool ModuleEntry(void *handle) {
    (void)handle;
    trace("ModuleEntry");
    return true;
}

EXPORT bool ModuleExit(void) {
    trace("ModuleExit");
#if ZOO_STAGE == ZOO_UNLOAD
    misbehave(0, "misbehave at unload");
#endif
    return true;
}

EXPORT void *GetPluginFactory(void) {
    trace("GetPluginFactory");
#if ZOO_STAGE == ZOO_ENUMERATE
    misbehave(0, "misbehave at enumerate");
#endif
    make_class_ids();
    return &factory;
}
