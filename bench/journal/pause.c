
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * How long this machine stops its own CPUs: one thread a CPU, pinned,
 * real-time (SCHED_FIFO, so no task of the guest's can delay it), wakes
 * every --period-us on an absolute timer and notes how late it woke.
 * A real-time thread on an otherwise idle or busy CPU wakes within tens
 * of microseconds; when it wakes milliseconds late, the virtual CPU was
 * not running: the host had descheduled it (or the guest ran with
 * interrupts off that long).  Every thread in the guest lost that time,
 * nginx's and wrk's alike.
 *
 * bench/journal/run.py runs it beside each measured run, so that a
 * run's p99 can be set against the stops of the machine during it.  Its
 * cost: one wake-up a CPU a period (~1,000 a second), a few
 * microseconds each, taken from nginx and wrk alike.
 *
 * It prints one JSON object: for each CPU the wake-ups, how many were
 * later than 1, 2, 5, 10 and 20 ms, the latest, and the time lost (the
 * sum of each lateness over 1 ms).
 */


#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#define PAUSE_LIMITS  5

static const uint64_t  pause_limit_us[PAUSE_LIMITS] =
    { 1000, 2000, 5000, 10000, 20000 };


typedef struct {
    pthread_t   tid;
    int         cpu;
    int         fifo;
    uint64_t    wakeups;
    uint64_t    late[PAUSE_LIMITS];
    uint64_t    max_ns;
    uint64_t    lost_ns;
} pause_cpu_t;


static uint64_t  pause_seconds_ns;
static uint64_t  pause_period_ns = 1000000;


static uint64_t
pause_now(void)
{
    struct timespec  t;

    (void) clock_gettime(CLOCK_MONOTONIC, &t);

    return (uint64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}


static void *
pause_run(void *data)
{
    pause_cpu_t *pc = data;

    int                 i;
    uint64_t            next, end, now, late;
    cpu_set_t           set;
    struct timespec     at;
    struct sched_param  sp;

    CPU_ZERO(&set);
    CPU_SET(pc->cpu, &set);
    (void) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);

    /* the lowest real-time priority: above every ordinary task */
    sp.sched_priority = 1;
    pc->fifo = (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0);

    next = pause_now();
    end = next + pause_seconds_ns;

    while (next < end) {
        next += pause_period_ns;
        at.tv_sec = next / 1000000000;
        at.tv_nsec = next % 1000000000;

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL)
               == EINTR)
        { /* void */ }

        now = pause_now();
        late = (now > next) ? now - next : 0;
        pc->wakeups++;

        for (i = 0; i < PAUSE_LIMITS; i++) {
            if (late > pause_limit_us[i] * 1000) {
                pc->late[i]++;
            }
        }

        if (late > pc->max_ns) {
            pc->max_ns = late;
        }

        if (late > 1000000) {
            pc->lost_ns += late - 1000000;
        }

        /* the periods missed while stopped are not made up in a burst */
        if (late > pause_period_ns) {
            next = now;
        }
    }

    return NULL;
}


int
main(int argc, char **argv)
{
    int           i, j, ncpu;
    double        seconds;
    pause_cpu_t  *pc;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SECONDS [PERIOD_US]\n", argv[0]);
        return 2;
    }

    seconds = atof(argv[1]);

    if (seconds <= 0 || seconds > 3600) {
        fprintf(stderr, "%s: seconds: 0 < s <= 3600\n", argv[0]);
        return 2;
    }

    pause_seconds_ns = (uint64_t) (seconds * 1e9);

    if (argc == 3) {
        pause_period_ns = (uint64_t) atol(argv[2]) * 1000;

        if (pause_period_ns < 100000) {
            fprintf(stderr, "%s: period: 100 us at least\n", argv[0]);
            return 2;
        }
    }

    ncpu = (int) sysconf(_SC_NPROCESSORS_ONLN);

    if (ncpu < 1 || ncpu > 1024) {
        fprintf(stderr, "%s: %d CPUs?\n", argv[0], ncpu);
        return 1;
    }

    pc = calloc(ncpu, sizeof(pause_cpu_t));

    if (pc == NULL) {
        perror("calloc");
        return 1;
    }

    for (i = 0; i < ncpu; i++) {
        pc[i].cpu = i;

        if (pthread_create(&pc[i].tid, NULL, pause_run, &pc[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }

    for (i = 0; i < ncpu; i++) {
        (void) pthread_join(pc[i].tid, NULL);
    }

    printf("{\"period_us\":%lu,\"seconds\":%.3f,\"limits_ms\":[",
           (unsigned long) (pause_period_ns / 1000), seconds);

    for (j = 0; j < PAUSE_LIMITS; j++) {
        printf("%s%lu", j ? "," : "",
               (unsigned long) (pause_limit_us[j] / 1000));
    }

    printf("],\"cpus\":[");

    for (i = 0; i < ncpu; i++) {
        printf("%s{\"cpu\":%d,\"fifo\":%s,\"wakeups\":%lu,\"late\":[",
               i ? "," : "", pc[i].cpu, pc[i].fifo ? "true" : "false",
               (unsigned long) pc[i].wakeups);

        for (j = 0; j < PAUSE_LIMITS; j++) {
            printf("%s%lu", j ? "," : "", (unsigned long) pc[i].late[j]);
        }

        printf("],\"max_ms\":%.3f,\"lost_ms\":%.3f}",
               pc[i].max_ns / 1e6, pc[i].lost_ns / 1e6);
    }

    printf("]}\n");

    return 0;
}
