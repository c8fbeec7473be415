
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * order-edit-journal: what a journal directory holds, read the way
 * replay reads it, for operators before and after a restart.
 *
 *   order-edit-journal dump <dir> [zone]
 *   order-edit-journal verify <dir> [zone]
 *
 * Segment files are "<zone>-<16 hex gen>-<8 digit seq>.jnl", their acks
 * "<segment file>.ack"; other files are ignored.  dump lists each
 * segment, in zone, gen and seq order: its SEG header, one line per ENQ
 * record with "acked(<kind>)" or "pending", then warnings: a file that
 * does not start with a SEG record of its zone (replay renames it to
 * "<segment>.bad"), a torn tail (what replay cuts off), corrupt records
 * (what replay skips to the next valid record), acks that are corrupt
 * or name no record.  Both end with one line:
 *
 *   segments=N records=N pending=N acked=N torn=N corrupt=N bytes=N
 *
 * records counts ENQ records; torn and corrupt count those of the
 * segment and of the ack files; bytes is the size of the segments.
 * verify prints that line only.
 *
 * Exit status: 0 when everything was read (a torn tail is the normal
 * trace of a crash), 2 when a corrupt record was found, else 1 on a
 * usage or I/O error.  On a live journal the newest segment may show a
 * torn tail that is only a write in progress.
 */


#define _POSIX_C_SOURCE  200809L

#include <sys/types.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_http_order_edit_jrec.h"


#define OE_SHOP     NGX_HTTP_ORDER_EDIT_JREC_SHOP
#define OE_TOPIC    NGX_HTTP_ORDER_EDIT_JREC_TOPIC
#define OE_WEBHOOK  NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID


typedef ngx_http_order_edit_jrec_rc_e  oe_rc_e;


/* a segment file, as its name describes it */
typedef struct {
    char                            *name;
    char                            *zone;
    uint64_t                         gen;
    uint64_t                         seq;
} oe_file_t;


typedef struct {
    uint32_t                         offset;
    unsigned                         kind;
    size_t                           index;     /* order in the file */
    int                              used;      /* names a record */
} oe_ack_t;


typedef struct {
    size_t                           offset;
    ngx_http_order_edit_jrec_enq_t   e;
} oe_rec_t;


/* everything read from one segment and its ack file */
typedef struct {
    const oe_file_t                 *file;
    unsigned char                   *buf;
    size_t                           len;
    int                              have_seg;
    ngx_http_order_edit_jrec_seg_t   seg;
    oe_rec_t                        *recs;
    size_t                           nrecs;
    size_t                           nalloc;
    oe_ack_t                        *acks;
    size_t                           nacks;
    char                           **warns;
    size_t                           nwarns;
    size_t                           walloc;
} oe_segment_t;


typedef struct {
    size_t                           segments;
    size_t                           records;
    size_t                           pending;
    size_t                           acked;
    size_t                           torn;
    size_t                           corrupt;
    unsigned long long               bytes;
    int                              io_error;
} oe_totals_t;


static oe_totals_t  oe_totals;

static const char  *oe_kinds[] = {
    "unknown", "delivered", "resolved", "dropped", "rollback"
};


static void
oe_usage(FILE *out)
{
    fprintf(out,
        "usage: order-edit-journal dump <dir> [zone]\n"
        "       order-edit-journal verify <dir> [zone]\n"
        "\n"
        "dump lists every segment of a journal directory, its records\n"
        "and acks, torn tails and corrupt records, as replay sees them;\n"
        "verify prints the summary line only.  Exit status: 0 readable,\n"
        "1 usage or I/O error, 2 corrupt records found.\n");
}


static void *
oe_alloc(size_t size)
{
    void  *p;

    p = malloc(size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "order-edit-journal: out of memory\n");
        exit(1);
    }

    return p;
}


/* room for one more element at the end of a growing array */

static void *
oe_push(void *arr, size_t *n, size_t *nalloc, size_t size)
{
    void  *p;

    if (*n == *nalloc) {
        *nalloc = *nalloc ? 2 * *nalloc : 16;

        p = realloc(arr, *nalloc * size);
        if (p == NULL) {
            fprintf(stderr, "order-edit-journal: out of memory\n");
            exit(1);
        }

        arr = p;
    }

    (*n)++;

    return arr;
}


/* warnings are printed after the records, in the order found */

static void
oe_warn(oe_segment_t *sg, const char *fmt, ...)
{
    int       n;
    char     *s;
    va_list   ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    s = oe_alloc((size_t) n + 1);

    va_start(ap, fmt);
    vsnprintf(s, (size_t) n + 1, fmt, ap);
    va_end(ap);

    sg->warns = oe_push(sg->warns, &sg->nwarns, &sg->walloc,
                        sizeof(char *));
    sg->warns[sg->nwarns - 1] = s;
}


/* the whole file; NULL and *missing set if it does not exist */

static unsigned char *
oe_read(const char *path, size_t *len, int *missing)
{
    FILE           *f;
    size_t          n;
    struct stat     st;
    unsigned char  *buf;

    f = fopen(path, "rb");

    if (f == NULL) {
        if (errno == ENOENT && missing) {
            *missing = 1;
            return NULL;
        }

        fprintf(stderr, "order-edit-journal: %s: %s\n", path,
                strerror(errno));
        oe_totals.io_error = 1;
        return NULL;
    }

    if (fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "order-edit-journal: %s: %s\n", path,
                strerror(errno));
        fclose(f);
        oe_totals.io_error = 1;
        return NULL;
    }

    buf = oe_alloc((size_t) st.st_size);

    /* a live segment may shrink or grow meanwhile: what was read counts */
    n = fread(buf, 1, (size_t) st.st_size, f);

    if (ferror(f)) {
        fprintf(stderr, "order-edit-journal: %s: read error\n", path);
        fclose(f);
        free(buf);
        oe_totals.io_error = 1;
        return NULL;
    }

    fclose(f);
    *len = n;

    return buf;
}


static int
oe_digits(const char *p, size_t n, int hex)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (hex ? !isxdigit((unsigned char) p[i])
                : !isdigit((unsigned char) p[i]))
        {
            return 0;
        }
    }

    return 1;
}


/* "<zone>-<16 hex gen>-<8 digit seq>.jnl"; a zone may hold dashes */

static int
oe_parse_name(const char *name, oe_file_t *f)
{
    size_t       n, zlen;
    const char  *seq, *gen;

    n = strlen(name);

    if (n < 1 + 1 + 16 + 1 + 8 + 4 || strcmp(name + n - 4, ".jnl") != 0) {
        return -1;
    }

    seq = name + n - 4 - 8;
    gen = seq - 1 - 16;
    zlen = (size_t) (gen - 1 - name);

    if (seq[-1] != '-' || gen[-1] != '-'
        || !oe_digits(seq, 8, 0) || !oe_digits(gen, 16, 1))
    {
        return -1;
    }

    f->name = oe_alloc(n + 1);
    memcpy(f->name, name, n + 1);

    f->zone = oe_alloc(zlen + 1);
    memcpy(f->zone, name, zlen);
    f->zone[zlen] = '\0';

    f->gen = strtoull(gen, NULL, 16);
    f->seq = strtoull(seq, NULL, 10);

    return 0;
}


static int
oe_file_cmp(const void *a, const void *b)
{
    int               rc;
    const oe_file_t  *x, *y;

    x = a;
    y = b;

    rc = strcmp(x->zone, y->zone);
    if (rc) {
        return rc;
    }

    if (x->gen != y->gen) {
        return x->gen < y->gen ? -1 : 1;
    }

    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }

    return strcmp(x->name, y->name);
}


static int
oe_ack_cmp(const void *a, const void *b)
{
    const oe_ack_t  *x, *y;

    x = a;
    y = b;

    if (x->offset != y->offset) {
        return x->offset < y->offset ? -1 : 1;
    }

    return x->index < y->index ? -1 : (x->index > y->index);
}


static void
oe_corrupt(oe_segment_t *sg, size_t off, const char *why)
{
    oe_totals.corrupt++;
    oe_warn(sg, "corrupt record at offset=%zu (%s)", off, why);
}


/* the acks beside a segment; a missing file is no ack yet */

static void
oe_read_acks(const char *path, oe_segment_t *sg)
{
    int             missing;
    char           *apath;
    size_t          len, i, n, nalloc;
    unsigned        kind;
    uint32_t        offset;
    unsigned char  *buf;

    apath = oe_alloc(strlen(path) + sizeof(".ack"));
    sprintf(apath, "%s.ack", path);

    missing = 0;
    buf = oe_read(apath, &len, &missing);
    free(apath);

    if (buf == NULL) {
        return;
    }

    n = 0;
    nalloc = 0;

    for (i = 0; i + NGX_HTTP_ORDER_EDIT_JACK_SIZE <= len;
         i += NGX_HTTP_ORDER_EDIT_JACK_SIZE)
    {
        if (ngx_http_order_edit_jack_decode(buf + i, &kind, &offset)
            != NGX_HTTP_ORDER_EDIT_JREC_OK)
        {
            oe_totals.corrupt++;
            oe_warn(sg, "corrupt ack at offset=%zu of %s.ack", i,
                    sg->file->name);
            continue;
        }

        sg->acks = oe_push(sg->acks, &n, &nalloc, sizeof(oe_ack_t));
        sg->acks[n - 1].offset = offset;
        sg->acks[n - 1].kind = kind;
        sg->acks[n - 1].index = n - 1;
        sg->acks[n - 1].used = 0;
    }

    if (i < len) {
        oe_totals.torn++;
        oe_warn(sg, "torn ack tail at offset=%zu of %s.ack, %zu bytes", i,
                sg->file->name, len - i);
    }

    sg->nacks = n;

    if (n > 1) {
        qsort(sg->acks, n, sizeof(oe_ack_t), oe_ack_cmp);
    }

    free(buf);
}


/*
 * Replay reads a segment only if it starts with a SEG record of the zone
 * its name says; else it renames it to "<segment>.bad" and replays none
 * of it.  A file cut short before its SEG record was whole counts as a
 * torn tail, anything else as corrupt.
 */

static int
oe_check_seg(oe_segment_t *sg)
{
    const char                  *why;
    const oe_file_t             *f;
    ngx_http_order_edit_jrec_t   rec;

    f = sg->file;

    switch (ngx_http_order_edit_jrec_decode(sg->buf, sg->len, &rec)) {

    case NGX_HTTP_ORDER_EDIT_JREC_OK:
        if (rec.type != NGX_HTTP_ORDER_EDIT_JREC_SEG) {
            why = "it starts with an ENQ record";

        } else if (ngx_http_order_edit_jrec_seg_parse(&rec, &sg->seg)
                   != NGX_HTTP_ORDER_EDIT_JREC_OK)
        {
            why = "its SEG record is malformed";

        } else if (sg->seg.zone_len != strlen(f->zone)
                   || memcmp(sg->seg.zone, f->zone, sg->seg.zone_len) != 0)
        {
            why = "its SEG record names another zone";

        } else {
            sg->have_seg = 1;

            /* replay does not mind: said, not counted */
            if (sg->seg.gen != f->gen || sg->seg.seq != f->seq) {
                oe_warn(sg, "SEG record says gen=%016" PRIx64 " seq=%"
                        PRIu64 ", unlike the file name", sg->seg.gen,
                        sg->seg.seq);
            }

            return 0;
        }

        break;

    case NGX_HTTP_ORDER_EDIT_JREC_SHORT:
        if (ngx_http_order_edit_jrec_resync(sg->buf, sg->len, 0)
            >= sg->len)
        {
            oe_totals.torn++;
            oe_warn(sg, "torn tail at offset=0, %zu bytes: no whole SEG "
                    "record, replay renames it to %s.bad", sg->len,
                    f->name);
            return -1;
        }

        /* fall through */

    default:
        why = "its SEG record is corrupt";
    }

    oe_totals.corrupt++;
    oe_warn(sg, "not a segment of zone \"%s\" (%s): replay renames it to "
            "%s.bad and replays none of its records", f->zone, why,
            f->name);

    return -1;
}


/*
 * The walk replay does: records while they decode.  At one that does not
 * (BAD, or SHORT: a length corrupted upwards looks torn too), resync;
 * when resync finds no valid record after it, the rest is a torn tail,
 * else the bytes up to the record it found are skipped as corrupt.
 */

static void
oe_walk(oe_segment_t *sg)
{
    size_t                           off, next;
    oe_rc_e                          rc;
    uint32_t                         gen;
    oe_rec_t                        *r;
    ngx_http_order_edit_jrec_t       rec;
    ngx_http_order_edit_jrec_enq_t   e;

    /* a format 2 file's records carry its generation (past the SEG) */
    gen = sg->have_seg ? ngx_http_order_edit_jrec_seg_gen(&sg->seg) : 0;
    off = 0;

    while (off < sg->len) {
        rc = ngx_http_order_edit_jrec_decode_gen(sg->buf + off,
                                                 sg->len - off,
                                                 off ? gen : 0, &rec);

        if (rc == NGX_HTTP_ORDER_EDIT_JREC_OK) {

            if (rec.type == NGX_HTTP_ORDER_EDIT_JREC_SEG) {
                /* replay skips it: said, not counted */
                if (off != 0) {
                    oe_warn(sg, "SEG record at offset=%zu, after the "
                            "first, skipped", off);
                }

            } else if (ngx_http_order_edit_jrec_enq_parse(&rec, &e)
                       != NGX_HTTP_ORDER_EDIT_JREC_OK)
            {
                /* its crc is right: a writer's bug, lost all the same */
                oe_corrupt(sg, off, "malformed ENQ payload, skipped");

            } else {
                sg->recs = oe_push(sg->recs, &sg->nrecs, &sg->nalloc,
                                   sizeof(oe_rec_t));
                r = &sg->recs[sg->nrecs - 1];
                r->offset = off;
                r->e = e;
            }

            off += rec.size;
            continue;
        }

        next = ngx_http_order_edit_jrec_resync_gen(sg->buf, sg->len, off,
                                                   gen);

        if (next >= sg->len && rc == NGX_HTTP_ORDER_EDIT_JREC_STALE) {
            /*
             * A recycled file: the rest is its last use's, or zeros.  The
             * end of this use, as replay takes it: nothing to say.
             */
            sg->len = off;
            break;
        }

        if (next >= sg->len) {
            oe_totals.torn++;
            oe_warn(sg, "torn tail at offset=%zu, %zu bytes", off,
                    sg->len - off);
            break;
        }

        oe_totals.corrupt++;
        oe_warn(sg, "corrupt record at offset=%zu (%s), skipped to "
                "offset=%zu", off,
                rc == NGX_HTTP_ORDER_EDIT_JREC_SHORT
                ? "its length runs past valid records" : "bad header or crc",
                next);

        off = next;
    }
}


/* header strings come from the network: one line, printable, always */

static void
oe_put_str(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\') {
            putchar(p[i]);

        } else {
            printf("\\x%02x", p[i]);
        }
    }
}


static void
oe_put_time(uint64_t ms)
{
    char       buf[64];
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL
        || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    {
        printf("@%" PRIu64 "ms", ms);
        return;
    }

    printf("%s.%03uZ", buf, (unsigned) (ms % 1000));
}


static void
oe_print(oe_segment_t *sg, int verbose)
{
    size_t           i, a, first;
    oe_rec_t        *r;
    oe_ack_t        *ack;

    if (verbose) {
        printf("segment %s", sg->file->name);

        if (sg->have_seg) {
            printf(" zone=");
            oe_put_str(sg->seg.zone, sg->seg.zone_len);
            printf(" gen=%016" PRIx64 " seq=%" PRIu64 " pid=%" PRIu32
                   " created=", sg->seg.gen, sg->seg.seq, sg->seg.pid);
            oe_put_time(sg->seg.created_ms);

        } else {
            printf(" (no SEG header)");
        }

        printf(" bytes=%zu\n", sg->len);
    }

    /* records and acks are both in offset order: one merge */
    a = 0;

    for (i = 0; i < sg->nrecs; i++) {
        r = &sg->recs[i];

        while (a < sg->nacks && sg->acks[a].offset < r->offset) {
            a++;
        }

        first = a;

        while (a < sg->nacks && sg->acks[a].offset == r->offset) {
            sg->acks[a++].used = 1;
        }

        oe_totals.records++;

        if (a > first) {
            oe_totals.acked++;

        } else {
            oe_totals.pending++;
        }

        if (!verbose) {
            continue;
        }

        printf("  offset=%zu ENQ id=%" PRIu64 " shop=", r->offset,
               r->e.id);
        oe_put_str(r->e.str[OE_SHOP], r->e.len[OE_SHOP]);
        printf(" topic=");
        oe_put_str(r->e.str[OE_TOPIC], r->e.len[OE_TOPIC]);
        printf(" webhook=");
        oe_put_str(r->e.str[OE_WEBHOOK], r->e.len[OE_WEBHOOK]);
        printf(" order=%" PRIu64 " body=%zu ", r->e.order_id,
               r->e.body_len);

        if (a == first) {
            printf("pending\n");
            continue;
        }

        printf("acked(");

        for (ack = &sg->acks[first]; ack < &sg->acks[a]; ack++) {
            printf("%s%s", ack == &sg->acks[first] ? "" : ",",
                   oe_kinds[ack->kind < 5 ? ack->kind : 0]);
        }

        printf(")\n");
    }

    for (a = 0; a < sg->nacks; a++) {
        if (!sg->acks[a].used) {
            oe_warn(sg, "ack (%s) names offset=%" PRIu32 ", where no "
                    "record starts", oe_kinds[sg->acks[a].kind < 5
                                              ? sg->acks[a].kind : 0],
                    sg->acks[a].offset);
        }
    }

    if (verbose) {
        for (i = 0; i < sg->nwarns; i++) {
            printf("  warning: %s\n", sg->warns[i]);
        }
    }
}


static void
oe_segment(const char *dir, const oe_file_t *f, int verbose)
{
    char          *path;
    size_t         i;
    oe_segment_t   sg;

    memset(&sg, 0, sizeof(sg));
    sg.file = f;

    path = oe_alloc(strlen(dir) + 1 + strlen(f->name) + 1);
    sprintf(path, "%s/%s", dir, f->name);

    sg.buf = oe_read(path, &sg.len, NULL);

    if (sg.buf == NULL) {
        free(path);
        return;
    }

    oe_totals.segments++;
    oe_totals.bytes += sg.len;

    if (oe_check_seg(&sg) == 0) {
        oe_read_acks(path, &sg);
        oe_walk(&sg);
    }

    oe_print(&sg, verbose);

    for (i = 0; i < sg.nwarns; i++) {
        free(sg.warns[i]);
    }

    free(sg.warns);
    free(sg.acks);
    free(sg.recs);
    free(sg.buf);
    free(path);
}


int
main(int argc, char **argv)
{
    int              verbose;
    DIR             *d;
    size_t           n, nalloc, i;
    oe_file_t       *files, f;
    const char      *dir, *zone;
    struct dirent   *de;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0
                      || strcmp(argv[1], "--help") == 0))
    {
        oe_usage(stdout);
        return 0;
    }

    if (argc < 3 || argc > 4
        || (strcmp(argv[1], "dump") != 0 && strcmp(argv[1], "verify") != 0))
    {
        oe_usage(stderr);
        return 1;
    }

    verbose = (strcmp(argv[1], "dump") == 0);
    dir = argv[2];
    zone = argc == 4 ? argv[3] : NULL;

    d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "order-edit-journal: %s: %s\n", dir,
                strerror(errno));
        return 1;
    }

    files = NULL;
    n = 0;
    nalloc = 0;

    while ((de = readdir(d)) != NULL) {
        if (oe_parse_name(de->d_name, &f) != 0) {
            continue;
        }

        if (zone && strcmp(f.zone, zone) != 0) {
            free(f.name);
            free(f.zone);
            continue;
        }

        files = oe_push(files, &n, &nalloc, sizeof(oe_file_t));
        files[n - 1] = f;
    }

    closedir(d);

    if (n > 1) {
        qsort(files, n, sizeof(oe_file_t), oe_file_cmp);
    }

    for (i = 0; i < n; i++) {
        oe_segment(dir, &files[i], verbose);
        free(files[i].name);
        free(files[i].zone);
    }

    free(files);

    printf("segments=%zu records=%zu pending=%zu acked=%zu torn=%zu "
           "corrupt=%zu bytes=%llu\n", oe_totals.segments,
           oe_totals.records, oe_totals.pending, oe_totals.acked,
           oe_totals.torn, oe_totals.corrupt, oe_totals.bytes);

    if (oe_totals.corrupt) {
        return 2;
    }

    return oe_totals.io_error ? 1 : 0;
}
