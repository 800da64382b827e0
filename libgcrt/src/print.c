/* print.c - the runtime's own print and fatal path (Go: print, throw).
 * No malloc, no stdio: safe in signal handlers and while the heap is
 * broken. */
#include "os.h"
#include "runtime.h"

#include <stdlib.h>

static size_t put_uint(char *buf, size_t cap, size_t n, unsigned long long v, unsigned base,
                       int width) {
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (k < width && k < (int)sizeof tmp) tmp[k++] = '0';
    while (k > 0) {
        if (n + 1 < cap) buf[n] = tmp[k - 1];
        n++;
        k--;
    }
    return n;
}

size_t gcrt__vfmt(char *buf, size_t cap, const char *fmt, va_list ap) {
    size_t n = 0;
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            if (n + 1 < cap) buf[n] = *f;
            n++;
            continue;
        }
        f++;
        int width = 0;
        if (*f == '0') {
            while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        }
        int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
        if (*f == 'l') {
            lng = 1;
            f++;
            if (*f == 'l') {
                lng = 2;
                f++;
            }
        } else if (*f == 'z') {
            lng = 3;
            f++;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = lng == 0   ? va_arg(ap, int)
                          : lng == 1 ? va_arg(ap, long)
                          : lng == 2 ? va_arg(ap, long long)
                                     : (long long)va_arg(ap, ptrdiff_t);
            unsigned long long u = (unsigned long long)v;
            if (v < 0) {
                if (n + 1 < cap) buf[n] = '-';
                n++;
                u = -(unsigned long long)v;
            }
            n = put_uint(buf, cap, n, u, 10, width);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng == 0   ? va_arg(ap, unsigned)
                                   : lng == 1 ? va_arg(ap, unsigned long)
                                   : lng == 2 ? va_arg(ap, unsigned long long)
                                              : va_arg(ap, size_t);
            n = put_uint(buf, cap, n, v, *f == 'x' ? 16 : 10, width);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            if (n + 1 < cap) buf[n] = '0';
            n++;
            if (n + 1 < cap) buf[n] = 'x';
            n++;
            n = put_uint(buf, cap, n, v, 16, 0);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            for (; *s; s++) {
                if (n + 1 < cap) buf[n] = *s;
                n++;
            }
            break;
        }
        case 'c': {
            int c = va_arg(ap, int);
            if (n + 1 < cap) buf[n] = (char)c;
            n++;
            break;
        }
        case '%':
            if (n + 1 < cap) buf[n] = '%';
            n++;
            break;
        default: /* unknown directive: print it as is */
            if (n + 1 < cap) buf[n] = '%';
            n++;
            if (!*f) goto out;
            if (n + 1 < cap) buf[n] = *f;
            n++;
            break;
        }
    }
out:
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return n;
}

size_t gcrt__fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = gcrt__vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void gcrt__printf(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = gcrt__vfmt(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf) n = sizeof buf - 1;
    gcrt__os_write(2, buf, n);
}

void gcrt__throw(const char *msg) {
    gcrt__throwf("%s", msg);
}

void gcrt__throwf(const char *fmt, ...) {
    char buf[1024];
    size_t n = gcrt__fmt(buf, sizeof buf, "fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    n += gcrt__vfmt(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (n > sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    gcrt__os_write(2, buf, n);
    abort();
}
