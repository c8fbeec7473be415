/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * cfault.so: stops a worker in the middle of a webhook's put, at the copy
 * of its body into the shared zone, for t/integration/test_bodycopy.py.
 * Loaded with LD_PRELOAD into nginx (the master, and so every worker it
 * forks), it wraps memcpy(): a copy whose source starts with a marker
 * and whose destination is shared memory (the zone, mapped MAP_SHARED;
 * nothing else of a worker's is) stops the process with SIGSTOP before
 * copying, while the control file says "stop".  The test then looks at
 * the zone from the other worker and kills the stopped one.  Nothing of
 * it is in the module: a test-only shim, built by mk/bodycopy.mk as
 * build/cfault.so.
 *
 *   OE_CFAULT_MARK  the marker, the first bytes of the body to stop at
 *   OE_CFAULT_CTL   a file read at every marked copy: "stop" stops the
 *                   process; no file, or anything else: the copy goes on
 *
 * Both are read when the library is loaded (nginx clears its environment
 * for its workers afterwards).
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static char    cfault_mark[256];
static size_t  cfault_mark_len;
static char    cfault_ctl[PATH_MAX];
static char    cfault_maps[1 << 16];

static void *(*real_memcpy)(void *, const void *, size_t);


__attribute__((constructor))
static void
cfault_init(void)
{
    const char  *m, *c;

    real_memcpy = (void *(*)(void *, const void *, size_t))
                  dlsym(RTLD_NEXT, "memcpy");

    m = getenv("OE_CFAULT_MARK");
    c = getenv("OE_CFAULT_CTL");

    if (m != NULL && strlen(m) < sizeof(cfault_mark)) {
        strcpy(cfault_mark, m);
        cfault_mark_len = strlen(m);
    }

    if (c != NULL) {
        snprintf(cfault_ctl, sizeof(cfault_ctl), "%s", c);
    }
}


/* does the control file say "stop"? */

static int
cfault_armed(void)
{
    int      fd;
    char     buf[16];
    ssize_t  n;

    fd = open(cfault_ctl, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    return n >= 4 && strncmp(buf, "stop", 4) == 0;
}


/* is addr in a MAP_SHARED mapping of this process ("rw-s" in maps)? */

static int
cfault_shared(const void *addr)
{
    int                 fd;
    char               *p, *end, *line;
    ssize_t             n, total;
    unsigned long long  lo, hi, a;
    char                perms[8];

    fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }

    total = 0;

    while (total < (ssize_t) sizeof(cfault_maps) - 1) {
        n = read(fd, cfault_maps + total, sizeof(cfault_maps) - 1 - total);
        if (n <= 0) {
            break;
        }
        total += n;
    }

    close(fd);
    cfault_maps[total] = '\0';

    a = (unsigned long long) (uintptr_t) addr;
    end = cfault_maps + total;

    for (line = cfault_maps; line < end; line = p + 1) {
        p = strchr(line, '\n');
        if (p == NULL) {
            p = end;
        }

        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3
            && a >= lo && a < hi)
        {
            return perms[3] == 's';
        }
    }

    return 0;
}


void *
memcpy(void *dst, const void *src, size_t n)
{
    size_t                i;
    volatile char        *d;
    const volatile char  *s;

    if (real_memcpy == NULL) {
        /* before the constructor ran (dlsym itself may copy) */
        d = dst;
        s = src;

        for (i = 0; i < n; i++) {
            d[i] = s[i];
        }

        return dst;
    }

    if (cfault_mark_len && n >= cfault_mark_len
        && memcmp(src, cfault_mark, cfault_mark_len) == 0
        && cfault_shared(dst) && cfault_armed())
    {
        raise(SIGSTOP);
    }

    return real_memcpy(dst, src, n);
}
