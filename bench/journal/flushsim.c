
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * flushsim.so: the disk's flush taken out of a bench run, to tell what
 * the journal costs from what the disk does.  Loaded with LD_PRELOAD
 * into nginx (the master, and so every worker it forks), it makes
 * fdatasync() wait OE_FLUSHSIM_US microseconds (0: not at all) and
 * flush nothing: the records reach the page cache as always, and the
 * kernel writes them back in its own time, never to the disk's cache
 * flush.  Everything else the module does for a record (the stage, the
 * thread's hand-off and window, pwritev, the waiters, the answers) runs
 * as it does with a real fsync.
 *
 * Not t/lib/jfault.so's fdatasync=SLOW: that one reads its control file
 * at every call and then flushes, which is what a bench must not pay.
 *
 * For benches only: with it, nothing the module answers is durable.
 * bench/journal/run.py loads it with --flush-sim US, for the journal's
 * configurations only, and says so in every line it prints.
 *
 * OE_FLUSHSIM_US is read when the library is loaded (nginx clears its
 * environment for its workers afterwards).
 */

#define _GNU_SOURCE

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>


static long  flushsim_us;


__attribute__((constructor))
static void
flushsim_init(void)
{
    const char  *e;

    e = getenv("OE_FLUSHSIM_US");
    flushsim_us = (e != NULL) ? atol(e) : 0;

    if (flushsim_us < 0 || flushsim_us > 10000000) {
        flushsim_us = 0;
    }
}


int
fdatasync(int fd)
{
    struct timespec  t;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }

    if (flushsim_us) {
        t.tv_sec = flushsim_us / 1000000;
        t.tv_nsec = (flushsim_us % 1000000) * 1000;

        while (nanosleep(&t, &t) == -1 && errno == EINTR) {
            /* void */
        }
    }

    return 0;
}
