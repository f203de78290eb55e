// libpluginary-compat.so: the few symbols that Debian trixie/sid binaries use and glibc 2.36 /
// libstdc++ 12 do not define at all. scripts/relink_plugins.py builds this with g++ at fetch time
// and adds it (patchelf --add-needed) to the loadable copies that reference one of these names.
// Each is defined by its mangled name (asm labels), unversioned: the copies' references to them
// have had their versions cleared, so they bind here.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <inttypes.h>
#include <ios>

extern "C" {

// GLIBC_2.38: C23's strto* and scanf (they also accept a 0b prefix; C99's do not).
long compat_isoc23_strtol(const char *s, char **end, int base) __asm__("__isoc23_strtol");
long compat_isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }
unsigned long compat_isoc23_strtoul(const char *s, char **end, int base) __asm__("__isoc23_strtoul");
unsigned long compat_isoc23_strtoul(const char *s, char **end, int base) {
    return strtoul(s, end, base);
}
long long compat_isoc23_strtoll(const char *s, char **end, int base) __asm__("__isoc23_strtoll");
long long compat_isoc23_strtoll(const char *s, char **end, int base) {
    return strtoll(s, end, base);
}
unsigned long long compat_isoc23_strtoull(const char *s, char **end, int base)
    __asm__("__isoc23_strtoull");
unsigned long long compat_isoc23_strtoull(const char *s, char **end, int base) {
    return strtoull(s, end, base);
}
intmax_t compat_isoc23_strtoimax(const char *s, char **end, int base) __asm__("__isoc23_strtoimax");
intmax_t compat_isoc23_strtoimax(const char *s, char **end, int base) {
    return strtoimax(s, end, base);
}
uintmax_t compat_isoc23_strtoumax(const char *s, char **end, int base)
    __asm__("__isoc23_strtoumax");
uintmax_t compat_isoc23_strtoumax(const char *s, char **end, int base) {
    return strtoumax(s, end, base);
}
int compat_isoc23_vsscanf(const char *s, const char *format, va_list args)
    __asm__("__isoc23_vsscanf");
int compat_isoc23_vsscanf(const char *s, const char *format, va_list args) {
    return vsscanf(s, format, args);
}
int compat_isoc23_sscanf(const char *s, const char *format, ...) __asm__("__isoc23_sscanf");
int compat_isoc23_sscanf(const char *s, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int done = vsscanf(s, format, args);
    va_end(args);
    return done;
}
int compat_isoc23_vfscanf(FILE *file, const char *format, va_list args)
    __asm__("__isoc23_vfscanf");
int compat_isoc23_vfscanf(FILE *file, const char *format, va_list args) {
    return vfscanf(file, format, args);
}
int compat_isoc23_fscanf(FILE *file, const char *format, ...) __asm__("__isoc23_fscanf");
int compat_isoc23_fscanf(FILE *file, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int done = vfscanf(file, format, args);
    va_end(args);
    return done;
}

// GLIBC_2.38: BSD's strlcpy and strlcat.
size_t compat_strlcpy(char *dst, const char *src, size_t size) __asm__("strlcpy");
size_t compat_strlcpy(char *dst, const char *src, size_t size) {
    size_t length = strlen(src);
    if (size) {
        size_t n = length < size - 1 ? length : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return length;
}
size_t compat_strlcat(char *dst, const char *src, size_t size) __asm__("strlcat");
size_t compat_strlcat(char *dst, const char *src, size_t size) {
    size_t used = strnlen(dst, size);
    return used == size ? size + strlen(src) : used + compat_strlcpy(dst + used, src, size - used);
}

// CXXABI_1.3.15 (GCC 14): called when an exception escapes a noexcept function.
void *__cxa_begin_catch(void *) noexcept;
void compat_cxa_call_terminate(void *exception) noexcept __asm__("__cxa_call_terminate");
void compat_cxa_call_terminate(void *exception) noexcept {
    if (exception) __cxa_begin_catch(exception);
    std::terminate();
}

// GLIBCXX_3.4.31 (GCC 13): std::string::_M_replace_cold, the overlapping case of replace(); as
// in GCC 13's basic_string.tcc, it uses nothing of the object but its static copy helpers.
static void move_chars(char *to, const char *from, size_t n) {
    if (n == 1) *to = *from;
    else if (n) memmove(to, from, n);
}
static void copy_chars(char *to, const char *from, size_t n) {
    if (n == 1) *to = *from;
    else if (n) memcpy(to, from, n);
}
void compat_replace_cold(void *, char *p, size_t len1, const char *s, size_t len2, size_t how_much)
    __asm__("_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE15_M_replace_coldEPcmPKcmm");
void compat_replace_cold(void *, char *p, size_t len1, const char *s, size_t len2, size_t how_much) {
    if (len2 && len2 <= len1) move_chars(p, s, len2);
    if (how_much && len1 != len2) move_chars(p + len2, p + len1, how_much);
    if (len2 > len1) {
        if (s + len2 <= p + len1) {
            move_chars(p, s, len2);
        } else if (s >= p + len1) {
            copy_chars(p, p + (s - p) + (len2 - len1), len2);
        } else {
            const size_t left = (p + len1) - s;
            move_chars(p, s, left);
            copy_chars(p + left, p + len2, len2 - left);
        }
    }
}

// GLIBCXX_3.4.32 (GCC 13): <iostream> users call this so the library constructs std::cout & co.
// libstdc++ 12 leaves that to an ios_base::Init object in each user: this library holds one.
void compat_ios_base_library_init() __asm__("_ZSt21ios_base_library_initv");
void compat_ios_base_library_init() {}
}

static std::ios_base::Init compat_ios_init;
