
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The journal's physical floor on this machine, without nginx: what a
 * record costs at the least when it is written as the journal must write
 * it, and what making it durable in batches costs on top.
 *
 * One process, pinned as the bench pins nginx.  Its main thread plays
 * the event loop: it writes records (the format's 16-byte header and
 * ENQ payload, then the body, then padding, CRC32C over them with the
 * module's own code) with one pwritev() each into a file written and
 * synced before (a recycled segment).  With --fsync batch, after every
 * --batch records it asks a second thread for an fdatasync() and waits
 * for the answer on an eventfd in epoll, as nginx's thread pool answers
 * the module; the thread starts the fdatasync no sooner than --window
 * after its last start, as fsync=batch does.  With --gather 1 a batch's
 * records go out in one pwritev() (one a run up to the file's end), as
 * the module's fsync thread writes what it covers since wave 2 session
 * 10; here the main thread makes that call (the CPU counted is every
 * thread's).  Nothing else: no HTTP, no
 * zone, no waiters, no acknowledgements.
 *
 * It prints one JSON object: the process's CPU time (every thread, user
 * and system) per record, and the parts of it.  bench/journal/run.py
 * runs it beside the module, with the module's own records per fsync,
 * and summarise.py sets the module's cost per webhook over nojournal
 * against it.
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_order_edit_jrec.h"


typedef struct {
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    int               posted;
    int               stop;
    int               fd;          /* the thread's own descriptor */
    int               efd;
    uint64_t          window_ns;
    uint64_t          last_ns;
    uint64_t          fsyncs;
    uint64_t          fsync_ns;
    uint64_t          cpu_ns;      /* the thread's own CPU time */
    int               err;
} floor_sync_t;


static const struct option  floor_options[] = {
    { "file",    required_argument, NULL, 'f' },
    { "body",    required_argument, NULL, 'b' },
    { "seconds", required_argument, NULL, 's' },
    { "fsync",   required_argument, NULL, 'y' },
    { "batch",   required_argument, NULL, 'n' },
    { "window",  required_argument, NULL, 'w' },
    { "file-mb", required_argument, NULL, 'm' },
    { "cpu",     required_argument, NULL, 'c' },
    { "hmac",    required_argument, NULL, 'h' },
    { "gather",  required_argument, NULL, 'g' },
    { NULL, 0, NULL, 0 }
};


static uint64_t
floor_now(clockid_t clk)
{
    struct timespec  ts;

    (void) clock_gettime(clk, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static void *
floor_sync_thread(void *data)
{
    floor_sync_t *s = data;

    uint64_t         one, now, at, t0;
    struct timespec  ts;

    one = 1;

    for ( ;; ) {
        pthread_mutex_lock(&s->mu);

        while (!s->posted && !s->stop) {
            pthread_cond_wait(&s->cv, &s->mu);
        }

        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            s->cpu_ns = floor_now(CLOCK_THREAD_CPUTIME_ID);
            return NULL;
        }

        s->posted = 0;
        pthread_mutex_unlock(&s->mu);

        /* the window since the last start, as fsync=batch spaces them */
        now = floor_now(CLOCK_MONOTONIC);
        at = s->last_ns + s->window_ns;

        if (s->window_ns && now < at) {
            ts.tv_sec = at / 1000000000;
            ts.tv_nsec = at % 1000000000;

            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
                   == EINTR)
            { /* void */ }

            now = floor_now(CLOCK_MONOTONIC);
        }

        s->last_ns = now;

        t0 = now;

        if (fdatasync(s->fd) == -1 && s->err == 0) {
            s->err = errno;
        }

        s->fsync_ns += floor_now(CLOCK_MONOTONIC) - t0;
        s->fsyncs++;

        if (write(s->efd, &one, sizeof(one)) != sizeof(one)) {
            s->err = errno;
        }
    }
}


static double
floor_tv(struct timeval *tv)
{
    return tv->tv_sec * 1e6 + tv->tv_usec;
}


/* a batch's records in one call, the empty header after the last */

static int
floor_gather_write(int fd, struct iovec *giov, int gn, unsigned char *zero,
    uint64_t goff)
{
    int      i;
    size_t   total;

    giov[gn].iov_base = zero;
    giov[gn].iov_len = NGX_HTTP_ORDER_EDIT_JREC_HDR;
    gn++;

    for (total = 0, i = 0; i < gn; i++) {
        total += giov[i].iov_len;
    }

    if (pwritev(fd, giov, gn, goff) != (ssize_t) total) {
        perror("pwritev");
        return 1;
    }

    return 0;
}


static void
floor_usage(void)
{
    fprintf(stderr,
        "usage: floor --file PATH [--body BYTES] [--seconds S] "
        "[--fsync off|batch|none]\n"
        "             [--batch RECORDS] [--window US] [--file-mb MB] "
        "[--cpu N] [--hmac 0|1] [--gather 0|1]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int                  fd, efd, ep, i, k, cpu, niov, hmac, opt, gather;
    int                  gn;
    unsigned int         mac_len;
    unsigned char        mac[EVP_MAX_MD_SIZE];
    char                *path, *mode;
    size_t               body_len, rec_len, pad, file_size;
    uint32_t             gen;
    uint64_t             n, seconds, batch, window_us, end, off, ev_val;
    uint64_t             main_ns, write_ns, t0, goff;
    double               cpu_us;
    cpu_set_t            set;
    pthread_t            tid;
    struct iovec         iov[9], *giov;
    struct rusage        ru0, ru1, rt0, rt1;
    unsigned char       *body, *zero, *chunk;
    unsigned char        head[NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD], *gheads;
    ngx_http_order_edit_jrec_enq_t  e;
    floor_sync_t         s;
    struct epoll_event   ev;

    static const char  shop[] = "bench.myshopify.com";
    static const char  topic[] = "orders/updated";
    static const char  whid[] = "b6f9a2f1-0d8e-4c5e-9a57-1f3c2d4e5f60";
    static const char  api[] = "2024-10";
    static const char  trig[] = "2026-12-07T12:00:00.000Z";
    static const char  pattern[] = "{\"id\":450789469,\"line_items\":[]}";

    path = NULL;
    mode = "batch";
    body_len = 16824;
    seconds = 3;
    batch = 23;
    window_us = 1000;
    file_size = 256;
    cpu = -1;
    hmac = 0;
    gather = 0;

    while ((opt = getopt_long(argc, argv, "", floor_options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            path = optarg;
            break;

        case 'b':
            body_len = strtoul(optarg, NULL, 10);
            break;

        case 's':
            seconds = strtoull(optarg, NULL, 10);
            break;

        case 'y':
            mode = optarg;
            break;

        case 'n':
            batch = strtoull(optarg, NULL, 10);
            break;

        case 'w':
            window_us = strtoull(optarg, NULL, 10);
            break;

        case 'm':
            file_size = strtoul(optarg, NULL, 10);
            break;

        case 'c':
            cpu = atoi(optarg);
            break;

        case 'h':
            hmac = atoi(optarg);
            break;

        case 'g':
            gather = atoi(optarg);
            break;

        default:
            floor_usage();
        }
    }

    if (optind != argc) {
        floor_usage();
    }

    if (path == NULL || batch == 0 || body_len == 0 || seconds == 0
        || (strcmp(mode, "off") != 0 && strcmp(mode, "batch") != 0
            && strcmp(mode, "none") != 0))
    {
        floor_usage();
    }

    file_size *= 1024 * 1024;

    if (cpu >= 0) {
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);

        if (sched_setaffinity(0, sizeof(set), &set) == -1) {
            perror("sched_setaffinity");
            return 1;
        }
    }

    /* a webhook as ingest journals it */
    memset(&e, 0, sizeof(e));
    e.order_id = 450789469;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_SHOP] = (const unsigned char *) shop;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_SHOP] = sizeof(shop) - 1;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_TOPIC] = (const unsigned char *) topic;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TOPIC] = sizeof(topic) - 1;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID] = (const unsigned char *) whid;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID] = sizeof(whid) - 1;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = (const unsigned char *) whid;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = sizeof(whid) - 1;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_API] = (const unsigned char *) api;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_API] = sizeof(api) - 1;
    e.str[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = (const unsigned char *) trig;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = sizeof(trig) - 1;
    e.body_len = body_len;

    rec_len = ngx_http_order_edit_jrec_enq_size(&e);

    if (gather && batch * 9 + 1 > IOV_MAX) {
        fprintf(stderr, "floor: --batch is too large for one pwritev\n");
        return 2;
    }

    if ((rec_len + NGX_HTTP_ORDER_EDIT_JREC_HDR) * batch > file_size) {
        fprintf(stderr, "floor: --file-mb is too small for one batch\n");
        return 2;
    }

    body = malloc(body_len);
    zero = calloc(1, 8 + NGX_HTTP_ORDER_EDIT_JREC_HDR);
    chunk = calloc(1, 1024 * 1024);
    gheads = malloc(batch * NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD);
    giov = malloc((batch * 9 + 1) * sizeof(struct iovec));

    if (body == NULL || zero == NULL || chunk == NULL || gheads == NULL
        || giov == NULL)
    {
        return 1;
    }

    for (i = 0; (size_t) i < body_len; i++) {
        body[i] = pattern[i % (sizeof(pattern) - 1)];
    }

    e.body = body;

    /* a recycled segment: every block written and synced once before */

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        perror(path);
        return 1;
    }

    for (off = 0; off < file_size; off += 1024 * 1024) {
        if (pwrite(fd, chunk, 1024 * 1024, off) != 1024 * 1024) {
            perror("pwrite");
            return 1;
        }
    }

    if (fsync(fd) == -1) {
        perror("fsync");
        return 1;
    }

    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.window_ns = window_us * 1000;

    /* the fsync's own descriptor, as the module opens one per fsync */
    s.fd = open(path, O_WRONLY | O_CLOEXEC);
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);

    if (s.fd == -1 || efd == -1 || ep == -1) {
        perror("open/eventfd/epoll");
        return 1;
    }

    s.efd = efd;
    ev.events = EPOLLIN;
    ev.data.fd = efd;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == -1
        || pthread_create(&tid, NULL, floor_sync_thread, &s) != 0)
    {
        perror("epoll_ctl/pthread_create");
        return 1;
    }

    gen = 0x5eed1234;
    n = 0;
    off = 0;
    write_ns = 0;
    gn = 0;
    goff = 0;

    (void) getrusage(RUSAGE_SELF, &ru0);
    (void) getrusage(RUSAGE_THREAD, &rt0);
    main_ns = floor_now(CLOCK_THREAD_CPUTIME_ID);
    end = floor_now(CLOCK_MONOTONIC) + seconds * 1000000000;

    while (floor_now(CLOCK_MONOTONIC) < end) {

        t0 = floor_now(CLOCK_THREAD_CPUTIME_ID);

        for (i = 0; (uint64_t) i < batch; i++, n++) {

            /*
             * --hmac 1: what ingest does to every body before its record
             * (HMAC-SHA256 of it), so that the write runs with the caches
             * as a webhook leaves them; --fsync none: that alone
             */
            if (hmac) {
                (void) HMAC(EVP_sha256(), "bench-shared-secret", 19, body,
                            body_len, mac, &mac_len);
            }

            if (mode[0] == 'n') {
                continue;
            }

            /* the module's encoder: the head with the whole record's crc */
            e.id = n + 1;
            e.received_ms = (uint64_t) time(NULL) * 1000;

            if (ngx_http_order_edit_jrec_enq_head_gen(head, &e, gen, &pad)
                != rec_len)
            {
                fprintf(stderr, "floor: the record does not encode\n");
                return 1;
            }

            /* then the strings and the body from where they are */
            iov[0].iov_base = head;
            iov[0].iov_len = NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD;

            for (k = 0; k < NGX_HTTP_ORDER_EDIT_JREC_NSTR; k++) {
                iov[1 + k].iov_base = (void *) e.str[k];
                iov[1 + k].iov_len = e.len[k];
            }

            iov[7].iov_base = body;
            iov[7].iov_len = body_len;
            /*
             * the padding, then the empty header that ends this use of a
             * recycled file, as the module writes after each record
             */
            iov[8].iov_base = zero;
            iov[8].iov_len = pad + NGX_HTTP_ORDER_EDIT_JREC_HDR;
            niov = 9;

            if (off + rec_len + NGX_HTTP_ORDER_EDIT_JREC_HDR > file_size) {
                if (gn && floor_gather_write(fd, giov, gn, zero, goff)) {
                    return 1;
                }

                gn = 0;
                off = 0;            /* the next use of the file */
            }

            if (gather) {
                /* the head kept for the batch's one call, no end yet */
                iov[0].iov_base = gheads
                                  + i * NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD;
                memcpy(iov[0].iov_base, head,
                       NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD);
                iov[8].iov_len = pad;

                if (gn == 0) {
                    goff = off;
                }

                memcpy(&giov[gn], iov, niov * sizeof(struct iovec));
                gn += niov;
                off += rec_len;
                continue;
            }

            if (pwritev(fd, iov, niov, off)
                != (ssize_t) (rec_len + NGX_HTTP_ORDER_EDIT_JREC_HDR))
            {
                perror("pwritev");
                return 1;
            }

            off += rec_len;
        }

        if (gn) {
            if (floor_gather_write(fd, giov, gn, zero, goff)) {
                return 1;
            }

            gn = 0;
        }

        write_ns += floor_now(CLOCK_THREAD_CPUTIME_ID) - t0;

        if (mode[0] != 'b') {
            continue;
        }

        /* the batch's fsync on the other thread; the loop waits in epoll */

        pthread_mutex_lock(&s.mu);
        s.posted = 1;
        pthread_cond_signal(&s.cv);
        pthread_mutex_unlock(&s.mu);

        for ( ;; ) {
            if (epoll_wait(ep, &ev, 1, -1) == 1
                && read(efd, &ev_val, sizeof(ev_val)) == sizeof(ev_val))
            {
                break;
            }
        }
    }

    main_ns = floor_now(CLOCK_THREAD_CPUTIME_ID) - main_ns;
    (void) getrusage(RUSAGE_THREAD, &rt1);
    (void) getrusage(RUSAGE_SELF, &ru1);

    pthread_mutex_lock(&s.mu);
    s.stop = 1;
    pthread_cond_signal(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(tid, NULL);

    if (s.err) {
        errno = s.err;
        perror("fdatasync");
        return 1;
    }

    cpu_us = floor_tv(&ru1.ru_utime) - floor_tv(&ru0.ru_utime)
             + floor_tv(&ru1.ru_stime) - floor_tv(&ru0.ru_stime);

    printf("{\"fsync\":\"%s\",\"records\":%llu,\"record_bytes\":%zu,"
           "\"fsyncs\":%llu,\"records_per_fsync\":%.1f,"
           "\"window_us\":%llu,\"seconds\":%llu,"
           "\"cpu_us_per_record\":%.2f,\"write_us_per_record\":%.2f,"
           "\"loop_us_per_record\":%.2f,\"fsync_us_mean\":%.1f,"
           "\"sync_thread_us_per_fsync\":%.1f,"
           "\"loop_sleeps_per_record\":%.3f}\n",
           mode, (unsigned long long) n, rec_len,
           (unsigned long long) s.fsyncs,
           s.fsyncs ? (double) n / s.fsyncs : 0.0,
           (unsigned long long) window_us, (unsigned long long) seconds,
           n ? cpu_us / n : 0.0, n ? write_ns / 1e3 / n : 0.0,
           n ? main_ns / 1e3 / n : 0.0,
           s.fsyncs ? s.fsync_ns / 1e3 / s.fsyncs : 0.0,
           s.fsyncs ? s.cpu_ns / 1e3 / s.fsyncs : 0.0,
           n ? (double) (rt1.ru_nvcsw - rt0.ru_nvcsw) / n : 0.0);

    (void) close(s.fd);
    (void) close(fd);
    (void) unlink(path);

    return 0;
}
