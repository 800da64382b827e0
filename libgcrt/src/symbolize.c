/* symbolize.c - names for code addresses in error reports (dladdr). The
 * profiles issue brings full in-process symbolization; this is what fatal
 * reports need. */
#include <dlfcn.h>

#include "runtime.h"

void gcrt__symbolize(uintptr_t pc, char *buf, size_t cap) {
    Dl_info info;
    if (pc && dladdr((void *)pc, &info) && info.dli_sname) {
        gcrt__fmt(buf, cap, "%s+0x%zx (%s)", info.dli_sname,
                  (size_t)(pc - (uintptr_t)info.dli_saddr), info.dli_fname ? info.dli_fname : "?");
    } else if (pc && dladdr((void *)pc, &info) && info.dli_fname) {
        gcrt__fmt(buf, cap, "%p (%s+0x%zx)", (void *)pc, info.dli_fname,
                  (size_t)(pc - (uintptr_t)info.dli_fbase));
    } else if (pc) {
        gcrt__fmt(buf, cap, "%p", (void *)pc);
    } else {
        gcrt__fmt(buf, cap, "an unknown site (run with GODEBUG=gccheckmark=1 from the start)");
    }
}
