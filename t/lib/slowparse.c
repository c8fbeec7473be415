/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * slowparse.so: a slow parse on nginx's thread pool, for the tests of
 * parsing off the event loop (t/integration/test_parse_pool.py).  Loaded
 * with LD_PRELOAD into nginx, it makes json_loadb() of a buffer at least
 * OE_SLOWPARSE_MIN bytes long take OE_SLOWPARSE_MS longer when it runs on
 * a thread other than the process's own (a worker's event loop is never
 * slowed), so that a reload can land while a parse is out.  Nothing of
 * it is in the module: a test-only shim, built by mk/parse.mk.
 *
 * With OE_LOOPPARSE_LOG set, each json_loadb() of at least OE_SLOWPARSE_MIN
 * bytes on a process's own thread (a worker's event loop) appends its
 * length, a line, to that file: what a test says must not be parsed
 * there (t/integration/test_parse_pool.py, the folded check's compare).
 *
 * With OE_SLOWRENAME_MS set, a rename() of a path ending in ".tmp" on a
 * thread other than the process's own takes that much longer: the report's
 * day's file, written on the thread pool, is then renamed late, so that a
 * reload can land while its write is out (t/integration/test_report_exit.py).
 *
 * All are read when the library is loaded (nginx clears its environment
 * for its workers afterwards).
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>


static size_t        slowparse_min = (size_t) -1;
static unsigned int  slowparse_ms;
static const char   *slowparse_loop_log;
static unsigned int  slowrename_ms;

static json_t *(*real_json_loadb)(const char *, size_t, size_t,
    json_error_t *);
static int (*real_rename)(const char *, const char *);


__attribute__((constructor))
static void
slowparse_init(void)
{
    const char  *s;

    s = getenv("OE_SLOWPARSE_MIN");
    if (s != NULL) {
        slowparse_min = (size_t) strtoull(s, NULL, 10);
    }

    s = getenv("OE_SLOWPARSE_MS");
    if (s != NULL) {
        slowparse_ms = (unsigned int) strtoul(s, NULL, 10);
    }

    s = getenv("OE_LOOPPARSE_LOG");
    if (s != NULL) {
        slowparse_loop_log = strdup(s);
    }

    s = getenv("OE_SLOWRENAME_MS");
    if (s != NULL) {
        slowrename_ms = (unsigned int) strtoul(s, NULL, 10);
    }
}


int
rename(const char *from, const char *to)
{
    size_t  len;

    if (real_rename == NULL) {
        real_rename = (int (*)(const char *, const char *))
                      dlsym(RTLD_NEXT, "rename");
    }

    len = strlen(from);

    if (slowrename_ms && len > 4 && strcmp(from + len - 4, ".tmp") == 0
        && gettid() != getpid())
    {
        usleep(slowrename_ms * 1000);
    }

    return real_rename(from, to);
}


/* one line, appended whole (O_APPEND): workers may write at once */

static void
slowparse_log_loop(size_t len)
{
    int   fd, n;
    char  line[32];

    fd = open(slowparse_loop_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd == -1) {
        return;
    }

    n = snprintf(line, sizeof(line), "%zu\n", len);
    (void) write(fd, line, (size_t) n);
    (void) close(fd);
}


json_t *
json_loadb(const char *buffer, size_t buflen, size_t flags,
    json_error_t *error)
{
    if (real_json_loadb == NULL) {
        real_json_loadb = (json_t *(*)(const char *, size_t, size_t,
                                       json_error_t *))
                          dlsym(RTLD_NEXT, "json_loadb");
    }

    if (buflen >= slowparse_min) {
        if (gettid() != getpid()) {
            usleep(slowparse_ms * 1000);

        } else if (slowparse_loop_log != NULL) {
            slowparse_log_loop(buflen);
        }
    }

    return real_json_loadb(buffer, buflen, flags, error);
}
