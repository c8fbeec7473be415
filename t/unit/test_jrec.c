
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The journal's record codec: CRC32C, ENQ and SEG records, torn and
 * corrupt input, resynchronisation and acknowledgements.
 *
 * Records under test live in heap buffers of exactly their size, so the
 * ASan build (make test-jrec-asan) catches a read one byte past them.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_http_order_edit_jrec.h"


/* the payloads' fixed parts, from the codec's layout */
#define OE_ENQ_FIXED   40
#define OE_SEG_FIXED   32
#define OE_HDR         NGX_HTTP_ORDER_EDIT_JREC_HDR
#define OE_ALIGN(n)    (((n) + 7) & ~((size_t) 7))

#define OE_OK          NGX_HTTP_ORDER_EDIT_JREC_OK
#define OE_SHORT       NGX_HTTP_ORDER_EDIT_JREC_SHORT
#define OE_BAD         NGX_HTTP_ORDER_EDIT_JREC_BAD
#define OE_STALE       NGX_HTTP_ORDER_EDIT_JREC_STALE


typedef ngx_http_order_edit_jrec_enq_t  oe_enq_t;
typedef ngx_http_order_edit_jrec_seg_t  oe_seg_t;
typedef ngx_http_order_edit_jrec_t      oe_rec_t;


/* jrec_table.c: the same codec without the hardware CRC32C path */
uint32_t oe_table_crc32c(uint32_t crc, const void *data, size_t len);
int oe_table_crc32c_used(void);


static const char  *oe_strs[NGX_HTTP_ORDER_EDIT_JREC_NSTR] = {
    "acme.myshopify.com", "orders/updated",
    "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "98880550-7158-44d4-b7cd-2c97c8a091b5", "2024-10",
    "2025-11-26T10:00:00.123456789Z"
};

/* one character each: a record small enough to flip every bit of */
static const char  *oe_tiny[NGX_HTTP_ORDER_EDIT_JREC_NSTR] = {
    "s", "t", "w", "e", "a", "z"
};


static uint32_t
oe_get32(const unsigned char *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8)
           | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}


static void
oe_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}


static void
oe_put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
}


/* CRC32C one bit at a time: slow, obviously right */

static uint32_t
oe_crc32c_ref(uint32_t crc, const unsigned char *p, size_t len)
{
    int  k;

    crc = ~crc;

    while (len--) {
        crc ^= *p++;

        for (k = 0; k < 8; k++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
        }
    }

    return ~crc;
}


/*
 * Give a record a new payload length and a valid crc again, the way a
 * buggy or hostile writer would: the crc covers bytes 0..11, then the
 * payload.
 */

static void
oe_reseal(unsigned char *rec, uint32_t len)
{
    uint32_t  crc;

    oe_put32(rec + 8, len);

    crc = ngx_http_order_edit_crc32c(0, rec, 12);
    crc = ngx_http_order_edit_crc32c(crc, rec + OE_HDR, len);

    oe_put32(rec + 12, crc);
}


static void
oe_fill(unsigned char *p, size_t len, uint32_t seed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char) (seed >> 16);
    }
}


static void
oe_enq_init(oe_enq_t *e, const char **strs, const void *body, size_t len)
{
    int  i;

    memset(e, 0, sizeof(*e));

    e->id = 0x0102030405060708ull;
    e->received_ms = 1764151200123ull;
    e->order_id = 820982911946154508ull;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        e->str[i] = (const unsigned char *) strs[i];
        e->len[i] = strlen(strs[i]);
    }

    e->body = body;
    e->body_len = len;
}


static void
oe_seg_init(oe_seg_t *s, const char *zone)
{
    s->gen = 0xfedcba9876543210ull;
    s->seq = 42;
    s->created_ms = 1764151200000ull;
    s->pid = 0x89abcdefu;
    s->zone = (const unsigned char *) zone;
    s->zone_len = strlen(zone);
    s->version = 2;
}


/* a heap copy of exactly len bytes: ASan sees a read past its end */

static unsigned char *
oe_dup(const unsigned char *p, size_t len)
{
    unsigned char  *q;

    q = malloc(len ? len : 1);
    assert_non_null(q);

    if (len) {
        memcpy(q, p, len);
    }

    return q;
}


static unsigned char *
oe_enq_record(const oe_enq_t *e, size_t *size)
{
    unsigned char  *buf;

    *size = ngx_http_order_edit_jrec_enq_size(e);
    assert_true(*size > 0);

    buf = malloc(*size);
    assert_non_null(buf);

    assert_int_equal(ngx_http_order_edit_jrec_enq_encode(buf, e), *size);

    return buf;
}


static unsigned char *
oe_seg_record(const oe_seg_t *s, size_t *size)
{
    unsigned char  *buf;

    *size = ngx_http_order_edit_jrec_seg_size(s);
    assert_true(*size > 0);

    buf = malloc(*size);
    assert_non_null(buf);

    assert_int_equal(ngx_http_order_edit_jrec_seg_encode(buf, s), *size);

    return buf;
}


static void
oe_enq_equal(const oe_enq_t *want, const oe_enq_t *got)
{
    int  i;

    assert_true(got->id == want->id);
    assert_true(got->received_ms == want->received_ms);
    assert_true(got->order_id == want->order_id);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        assert_int_equal(got->len[i], want->len[i]);

        if (want->len[i]) {
            assert_memory_equal(got->str[i], want->str[i], want->len[i]);
        }
    }

    assert_int_equal(got->body_len, want->body_len);

    if (want->body_len) {
        assert_memory_equal(got->body, want->body, want->body_len);
    }
}


/*
 * Encode into a buffer with room to spare, check the size, the header,
 * the zero padding and that nothing past the record was written, then
 * decode and parse it back from an exact copy.
 */

static void
oe_enq_round_trip(const oe_enq_t *e)
{
    int              i;
    size_t           size, len, k;
    oe_seg_t         s;
    oe_enq_t         got;
    oe_rec_t         rec;
    unsigned char   *buf, *copy;

    len = OE_ENQ_FIXED + e->body_len;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        len += e->len[i];
    }

    size = ngx_http_order_edit_jrec_enq_size(e);
    assert_int_equal(size, OE_HDR + OE_ALIGN(len));

    buf = malloc(size + 16);
    assert_non_null(buf);
    memset(buf, 0xa5, size + 16);

    assert_int_equal(ngx_http_order_edit_jrec_enq_encode(buf, e), size);

    assert_int_equal(oe_get32(buf), NGX_HTTP_ORDER_EDIT_JREC_MAGIC);
    assert_memory_equal(buf, "OEJ1", 4);
    assert_int_equal(buf[4], NGX_HTTP_ORDER_EDIT_JREC_ENQ);
    assert_int_equal(buf[5] | buf[6] | buf[7], 0);
    assert_int_equal(oe_get32(buf + 8), len);

    for (k = OE_HDR + len; k < size; k++) {
        assert_int_equal(buf[k], 0);
    }

    for (k = size; k < size + 16; k++) {
        assert_int_equal(buf[k], 0xa5);
    }

    copy = oe_dup(buf, size);

    assert_int_equal(ngx_http_order_edit_jrec_decode(copy, size, &rec),
                     OE_OK);
    assert_int_equal(rec.type, NGX_HTTP_ORDER_EDIT_JREC_ENQ);
    assert_ptr_equal(rec.payload, copy + OE_HDR);
    assert_int_equal(rec.len, len);
    assert_int_equal(rec.size, size);

    assert_int_equal(ngx_http_order_edit_jrec_enq_parse(&rec, &got), OE_OK);
    oe_enq_equal(e, &got);

    /* the parsed fields point into the record, in their order on disk */
    assert_ptr_equal(got.str[0], copy + OE_HDR + OE_ENQ_FIXED);
    assert_ptr_equal(got.body + got.body_len, copy + OE_HDR + len);

    /* a record is not a SEG */
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&rec, &s), OE_BAD);

    free(copy);
    free(buf);
}


static void
test_crc32c_vectors(void **state)
{
    size_t          i;
    unsigned char   buf[32];

    (void) state;

    assert_int_equal(ngx_http_order_edit_crc32c(0, "123456789", 9),
                     0xe3069283u);

    /* nothing: the crc so far, unchanged */
    assert_int_equal(ngx_http_order_edit_crc32c(0, "", 0), 0);
    assert_int_equal(ngx_http_order_edit_crc32c(0xe3069283u, NULL, 0),
                     0xe3069283u);

    /* RFC 3720, B.4 */
    memset(buf, 0, sizeof(buf));
    assert_int_equal(ngx_http_order_edit_crc32c(0, buf, 32), 0x8a9136aau);

    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(ngx_http_order_edit_crc32c(0, buf, 32), 0x62a8ab43u);

    for (i = 0; i < 32; i++) {
        buf[i] = (unsigned char) i;
    }

    assert_int_equal(ngx_http_order_edit_crc32c(0, buf, 32), 0x46dd794eu);

    for (i = 0; i < 32; i++) {
        buf[i] = (unsigned char) (31 - i);
    }

    assert_int_equal(ngx_http_order_edit_crc32c(0, buf, 32), 0x113fdb5cu);

    assert_int_equal(oe_crc32c_ref(0, (const unsigned char *) "123456789",
                                   9),
                     0xe3069283u);
}


static void
test_crc32c_incremental(void **state)
{
    size_t          i, j;
    uint32_t        whole, crc;
    unsigned char   buf[1024];

    (void) state;

    oe_fill(buf, sizeof(buf), 7);
    whole = ngx_http_order_edit_crc32c(0, buf, sizeof(buf));

    assert_int_equal(whole, oe_crc32c_ref(0, buf, sizeof(buf)));

    for (i = 0; i <= sizeof(buf); i++) {
        crc = ngx_http_order_edit_crc32c(0, buf, i);
        crc = ngx_http_order_edit_crc32c(crc, buf + i, sizeof(buf) - i);
        assert_int_equal(crc, whole);
    }

    /* three pieces at every odd boundary of the first 64 bytes */
    for (i = 0; i < 64; i++) {
        for (j = i; j < 64; j++) {
            crc = ngx_http_order_edit_crc32c(0, buf, i);
            crc = ngx_http_order_edit_crc32c(crc, buf + i, j - i);
            crc = ngx_http_order_edit_crc32c(crc, buf + j,
                                             sizeof(buf) - j);
            assert_int_equal(crc, whole);
        }
    }

    crc = 0;

    for (i = 0; i < sizeof(buf); i++) {
        crc = ngx_http_order_edit_crc32c(crc, buf + i, 1);
    }

    assert_int_equal(crc, whole);
}


/*
 * The public function (the hardware path here when the CPU has SSE4.2),
 * the portable tables and the bitwise reference agree on every length
 * and alignment that reaches the 8-byte loops and their tails.
 */

static void
test_crc32c_paths(void **state)
{
    size_t          off, len;
    uint32_t        ref, seed;
    unsigned char   buf[300];

    (void) state;

    oe_fill(buf, sizeof(buf), 99);

    for (off = 0; off < 8; off++) {
        for (len = 0; off + len <= sizeof(buf); len++) {
            seed = (uint32_t) (len * 0x9e3779b9u);
            ref = oe_crc32c_ref(seed, buf + off, len);

            assert_int_equal(ngx_http_order_edit_crc32c(seed, buf + off, len),
                             ref);
            assert_int_equal(oe_table_crc32c(seed, buf + off, len), ref);
        }
    }

    assert_int_equal(oe_table_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_true(oe_table_crc32c_used());
}


/*
 * Lengths that reach the three-stream loop (768 bytes a round) once and
 * many times, with every tail, at every alignment: a regression guard
 * for that loop and its joins (the single-stream code passes it too).
 */

static void
test_crc32c_streams(void **state)
{
    size_t          off, len, i;
    uint32_t        ref, seed;
    unsigned char   buf[4 * 1024 + 8];
    size_t          edge[] = { 767, 768, 769, 1535, 1536, 1537, 2304,
                               3072, 3840, 4096 };

    (void) state;

    oe_fill(buf, sizeof(buf), 7);

    for (off = 0; off < 8; off++) {
        for (len = 0; off + len <= sizeof(buf); len += 61) {
            seed = (uint32_t) (len * 0x85ebca6bu + off);
            ref = oe_crc32c_ref(seed, buf + off, len);

            assert_int_equal(ngx_http_order_edit_crc32c(seed, buf + off, len),
                             ref);
            assert_int_equal(oe_table_crc32c(seed, buf + off, len), ref);
        }

        for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
            ref = oe_crc32c_ref(0, buf + off, edge[i]);

            assert_int_equal(ngx_http_order_edit_crc32c(0, buf + off,
                                                        edge[i]),
                             ref);
        }
    }
}


static void
test_enq_round_trip(void **state)
{
    oe_enq_t     e;
    const char  *body = "{\"id\":820982911946154508,\"note\":\"OEJ1\"}";

    (void) state;

    oe_enq_init(&e, oe_strs, body, strlen(body));
    oe_enq_round_trip(&e);

    e.id = 0;
    e.received_ms = UINT64_MAX;
    e.order_id = 0x8000000000000001ull;
    oe_enq_round_trip(&e);
}


static void
test_enq_empty(void **state)
{
    size_t           size;
    oe_enq_t         e;
    const char      *none[NGX_HTTP_ORDER_EDIT_JREC_NSTR] = {
                         "", "", "", "", "", ""
                     };
    unsigned char   *rec;

    (void) state;

    oe_enq_init(&e, none, NULL, 0);
    oe_enq_round_trip(&e);

    rec = oe_enq_record(&e, &size);
    assert_int_equal(size, OE_HDR + OE_ENQ_FIXED);
    free(rec);

    /* some strings empty, some not */
    oe_enq_init(&e, oe_strs, "{}", 2);
    e.len[NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID] = 0;
    e.len[NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED] = 0;
    oe_enq_round_trip(&e);
}


/* every remainder modulo 8, twice: the padding is 7 bytes at most */

static void
test_enq_body_lengths(void **state)
{
    size_t     n;
    oe_enq_t   e;
    char       body[17];

    (void) state;

    memset(body, 'x', sizeof(body));

    for (n = 0; n <= sizeof(body); n++) {
        oe_enq_init(&e, oe_strs, body, n);
        oe_enq_round_trip(&e);

        oe_enq_init(&e, oe_tiny, body, n);
        oe_enq_round_trip(&e);
    }
}


static void
test_enq_large_body(void **state)
{
    size_t           n;
    oe_enq_t         e;
    unsigned char   *body;

    (void) state;

    n = 1024 * 1024;
    body = malloc(n + 3);
    assert_non_null(body);
    oe_fill(body, n + 3, 1);

    oe_enq_init(&e, oe_strs, body, n);
    oe_enq_round_trip(&e);

    oe_enq_init(&e, oe_strs, body, n + 3);
    oe_enq_round_trip(&e);

    free(body);
}


static void
test_enq_too_long(void **state)
{
    int              i;
    size_t           k;
    oe_enq_t         e;
    unsigned char   *big, buf[64];

    (void) state;

    big = malloc(65536);
    assert_non_null(big);
    memset(big, 'q', 65536);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        oe_enq_init(&e, oe_strs, "{}", 2);

        e.str[i] = big;
        e.len[i] = 65535;
        oe_enq_round_trip(&e);

        e.len[i] = 65536;
        assert_int_equal(ngx_http_order_edit_jrec_enq_size(&e), 0);

        /* nothing is written for a record that cannot be */
        memset(buf, 0xa5, sizeof(buf));
        assert_int_equal(ngx_http_order_edit_jrec_enq_encode(buf, &e), 0);

        for (k = 0; k < sizeof(buf); k++) {
            assert_int_equal(buf[k], 0xa5);
        }
    }

    /* every string at its maximum still fits */
    oe_enq_init(&e, oe_strs, "{}", 2);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        e.str[i] = big;
        e.len[i] = 65535;
    }

    oe_enq_round_trip(&e);

    /* a body past the format's limit: size() does not touch it */
    oe_enq_init(&e, oe_strs, NULL, NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN);
    assert_int_equal(ngx_http_order_edit_jrec_enq_size(&e), 0);

#if (SIZE_MAX > UINT32_MAX)
    e.body_len = (size_t) UINT32_MAX + 1;
    assert_int_equal(ngx_http_order_edit_jrec_enq_size(&e), 0);
#endif

    free(big);
}


static void
test_seg_round_trip(void **state)
{
    size_t           size, k, i;
    oe_seg_t         s, got;
    oe_enq_t         e;
    oe_rec_t         rec;
    unsigned char   *buf, *copy;
    char             longest[300];
    const char      *zones[] = { "edits", "", "z", "1234567", "12345678",
                                 "a-zone-with-dashes-0123456789abcdef",
                                 longest };

    (void) state;

    memset(longest, 'l', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';

    for (k = 0; k < sizeof(zones) / sizeof(zones[0]); k++) {
        oe_seg_init(&s, zones[k]);

        size = ngx_http_order_edit_jrec_seg_size(&s);
        assert_int_equal(size, OE_HDR + OE_ALIGN(OE_SEG_FIXED + s.zone_len));

        buf = malloc(size + 8);
        assert_non_null(buf);
        memset(buf, 0xa5, size + 8);

        assert_int_equal(ngx_http_order_edit_jrec_seg_encode(buf, &s), size);
        assert_int_equal(buf[4], NGX_HTTP_ORDER_EDIT_JREC_SEG);
        assert_int_equal(buf[size], 0xa5);
        assert_int_equal(buf[size + 7], 0xa5);

        copy = oe_dup(buf, size);
        free(buf);

        assert_int_equal(ngx_http_order_edit_jrec_decode(copy, size, &rec),
                         OE_OK);
        assert_int_equal(rec.type, NGX_HTTP_ORDER_EDIT_JREC_SEG);
        assert_int_equal(rec.len, OE_SEG_FIXED + s.zone_len);
        assert_int_equal(rec.size, size);

        for (i = OE_HDR + rec.len; i < size; i++) {
            assert_int_equal(copy[i], 0);
        }

        memset(&got, 0, sizeof(got));
        assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&rec, &got),
                         OE_OK);
        assert_true(got.gen == s.gen);
        assert_true(got.seq == s.seq);
        assert_true(got.created_ms == s.created_ms);
        assert_int_equal(got.pid, s.pid);
        assert_int_equal(got.zone_len, s.zone_len);

        if (s.zone_len) {
            assert_memory_equal(got.zone, s.zone, s.zone_len);
        }

        /* a SEG is not an ENQ */
        assert_int_equal(ngx_http_order_edit_jrec_enq_parse(&rec, &e),
                         OE_BAD);

        free(copy);
    }

    s.zone_len = 65536;
    assert_int_equal(ngx_http_order_edit_jrec_seg_size(&s), 0);
}


/* every prefix of a record is a torn write of it: SHORT, never more */

static void
oe_truncations(const unsigned char *rec, size_t size)
{
    size_t           n;
    oe_rec_t         r;
    unsigned char   *copy;

    for (n = 0; n < size; n++) {
        copy = oe_dup(rec, n);

        if (ngx_http_order_edit_jrec_decode(copy, n, &r) != OE_SHORT) {
            fail_msg("prefix of %zu of %zu bytes is not SHORT", n, size);
        }

        free(copy);
    }

    copy = oe_dup(rec, size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(copy, size, &r), OE_OK);
    free(copy);
}


static void
test_truncated(void **state)
{
    size_t           size;
    oe_enq_t         e;
    oe_seg_t         s;
    unsigned char   *rec;
    const char      *body = "{\"id\":1,\"line_items\":[]}";

    (void) state;

    oe_enq_init(&e, oe_strs, body, strlen(body));
    rec = oe_enq_record(&e, &size);
    oe_truncations(rec, size);
    free(rec);

    oe_enq_init(&e, oe_tiny, NULL, 0);
    rec = oe_enq_record(&e, &size);
    oe_truncations(rec, size);
    free(rec);

    oe_seg_init(&s, "edits");
    rec = oe_seg_record(&s, &size);
    oe_truncations(rec, size);
    free(rec);
}


/*
 * Flip every bit of the header and payload of a record (the padding is
 * not covered by the crc and is never read).  Alone in its buffer, the
 * record is never OK: BAD, except that a flip raising the length field
 * past the end of the buffer makes it SHORT, since its crc cannot be
 * checked without the bytes the length claims.  Followed by a valid
 * record, resync always finds that one, which is what replay relies on
 * for both answers.
 */

static void
oe_flips(const unsigned char *rec, size_t size, size_t len)
{
    size_t           bit, byte, nsize, n2, avail;
    uint32_t         nlen;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char   *copy, *two, *next;
    ngx_http_order_edit_jrec_rc_e  rc;

    oe_enq_init(&e, oe_tiny, "next", 4);
    next = oe_enq_record(&e, &n2);

    for (bit = 0; bit < (OE_HDR + len) * 8; bit++) {
        byte = bit / 8;

        copy = oe_dup(rec, size);
        copy[byte] ^= (unsigned char) (1u << (bit % 8));

        rc = ngx_http_order_edit_jrec_decode(copy, size, &r);

        if (byte >= 8 && byte < 12) {
            nlen = oe_get32(copy + 8);
            nsize = OE_HDR + OE_ALIGN((size_t) nlen);

            if (rc != OE_BAD
                && !(rc == OE_SHORT && nlen > len && nsize > size))
            {
                fail_msg("length bit %zu flipped: rc %d", bit, rc);
            }

        } else if (rc != OE_BAD) {
            fail_msg("bit %zu (byte %zu) flipped: rc %d", bit, byte, rc);
        }

        avail = size + n2;
        two = malloc(avail);
        assert_non_null(two);
        memcpy(two, copy, size);
        memcpy(two + size, next, n2);

        assert_int_not_equal(ngx_http_order_edit_jrec_decode(two, avail, &r),
                             OE_OK);

        if (ngx_http_order_edit_jrec_resync(two, avail, 0) != size) {
            fail_msg("bit %zu flipped: resync misses the next record", bit);
        }

        free(two);
        free(copy);
    }

    free(next);
}


static void
test_flipped_bits(void **state)
{
    size_t           size;
    oe_enq_t         e;
    oe_seg_t         s;
    oe_rec_t         r;
    unsigned char   *rec;

    (void) state;

    oe_enq_init(&e, oe_tiny, "{\"id\":1}", 8);
    rec = oe_enq_record(&e, &size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);
    oe_flips(rec, size, r.len);
    free(rec);

    oe_seg_init(&s, "edits");
    rec = oe_seg_record(&s, &size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);
    oe_flips(rec, size, r.len);
    free(rec);
}


/* an unknown type, flags or reserved bytes: BAD even with a valid crc */

static void
test_header_fields(void **state)
{
    size_t           size, i;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char   *rec;

    (void) state;

    oe_enq_init(&e, oe_tiny, "{}", 2);
    rec = oe_enq_record(&e, &size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);

    for (i = 0; i < 256; i++) {
        if (i == NGX_HTTP_ORDER_EDIT_JREC_SEG
            || i == NGX_HTTP_ORDER_EDIT_JREC_ENQ)
        {
            continue;
        }

        rec[4] = (unsigned char) i;
        oe_reseal(rec, (uint32_t) r.len);
        assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r),
                         OE_BAD);
    }

    rec[4] = NGX_HTTP_ORDER_EDIT_JREC_ENQ;

    for (i = 5; i < 8; i++) {
        rec[i] = 1;
        oe_reseal(rec, (uint32_t) r.len);
        assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r),
                         OE_BAD);
        rec[i] = 0;
    }

    /* a length past the format's limit is BAD before it is SHORT */
    oe_reseal(rec, (uint32_t) r.len);
    oe_put32(rec + 8, NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN + 1);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_BAD);
    oe_put32(rec + 8, UINT32_MAX);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_BAD);

    free(rec);
}


/*
 * Payloads whose crc is right but whose lengths do not add up exactly to
 * the payload: enq_parse must refuse them, so that no string or body
 * pointer reaches past rec->payload + rec->len.
 */

static void
oe_parse_case(const unsigned char *orig, size_t size, size_t len_off,
    int delta, int len_delta, ngx_http_order_edit_jrec_rc_e want)
{
    uint32_t         v, len;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char   *rec;

    rec = oe_dup(orig, size);
    len = oe_get32(rec + 8);

    if (len_off) {
        if (len_off == OE_HDR + 36) {
            v = oe_get32(rec + len_off) + (uint32_t) delta;
            oe_put32(rec + len_off, v);

        } else {
            v = (rec[len_off] | (rec[len_off + 1] << 8)) + (uint32_t) delta;
            oe_put16(rec + len_off, v);
        }
    }

    len += (uint32_t) len_delta;
    oe_reseal(rec, len);

    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);

    if (ngx_http_order_edit_jrec_enq_parse(&r, &e) != want) {
        fail_msg("length at %zu %+d, payload %+d: not rc %d", len_off, delta,
                 len_delta, want);
    }

    if (want == OE_OK) {
        assert_ptr_equal(e.body + e.body_len, r.payload + r.len);
    }

    free(rec);
}


static void
test_enq_parse_lengths(void **state)
{
    size_t           size, i, body_at;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char   *rec;

    (void) state;

    /* 40 + 6 + 5 = 51 payload bytes: 5 bytes of padding to play in */
    oe_enq_init(&e, oe_tiny, "{\"a\"}", 5);
    rec = oe_enq_record(&e, &size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);
    assert_int_equal(r.len, 51);

    body_at = OE_HDR + 36;

    /* untouched, resealed: still fine */
    oe_parse_case(rec, size, 0, 0, 0, OE_OK);

    oe_parse_case(rec, size, body_at, 1, 0, OE_BAD);
    oe_parse_case(rec, size, body_at, -1, 0, OE_BAD);
    oe_parse_case(rec, size, body_at, 0x10000, 0, OE_BAD);
    oe_parse_case(rec, size, body_at, -6, 0, OE_BAD);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        oe_parse_case(rec, size, OE_HDR + 24 + 2 * i, 1, 0, OE_BAD);
        oe_parse_case(rec, size, OE_HDR + 24 + 2 * i, -1, 0, OE_BAD);
        oe_parse_case(rec, size, OE_HDR + 24 + 2 * i, 0xfffe, 0, OE_BAD);
    }

    /* the payload longer or shorter than its lengths say */
    oe_parse_case(rec, size, 0, 0, 1, OE_BAD);
    oe_parse_case(rec, size, 0, 0, 5, OE_BAD);
    oe_parse_case(rec, size, 0, 0, -1, OE_BAD);
    oe_parse_case(rec, size, body_at, 1, 1, OE_OK);
    oe_parse_case(rec, size, body_at, -1, -1, OE_OK);

    /* shorter than the fixed part: nothing may be read from it */
    oe_parse_case(rec, size, 0, 0, -(int) (51 - OE_ENQ_FIXED + 1), OE_BAD);
    oe_parse_case(rec, size, 0, 0, -51, OE_BAD);

    /* every length at its maximum, the payload unchanged */
    {
        unsigned char  *bad;

        bad = oe_dup(rec, size);

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
            oe_put16(bad + OE_HDR + 24 + 2 * i, 0xffff);
        }

        oe_put32(bad + body_at, UINT32_MAX);
        oe_reseal(bad, 51);
        assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r),
                         OE_OK);
        assert_int_equal(ngx_http_order_edit_jrec_enq_parse(&r, &e), OE_BAD);

        free(bad);
    }

    free(rec);
}


static void
test_seg_parse_lengths(void **state)
{
    size_t           size;
    oe_seg_t         s;
    oe_rec_t         r;
    unsigned char   *rec, *bad;

    (void) state;

    oe_seg_init(&s, "edits");
    rec = oe_seg_record(&s, &size);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);
    assert_int_equal(r.len, OE_SEG_FIXED + 5);

    bad = oe_dup(rec, size);
    oe_put16(bad + OE_HDR + 28, 6);
    oe_reseal(bad, (uint32_t) r.len);
    assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &s), OE_BAD);

    oe_put16(bad + OE_HDR + 28, 4);
    oe_reseal(bad, (uint32_t) r.len);
    assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &s), OE_BAD);

    oe_put16(bad + OE_HDR + 28, 0xffff);
    oe_reseal(bad, (uint32_t) r.len);
    assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &s), OE_BAD);

    /* shorter than the fixed part */
    oe_put16(bad + OE_HDR + 28, 0);
    oe_reseal(bad, OE_SEG_FIXED - 1);
    assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &s), OE_BAD);

    oe_reseal(bad, 0);
    assert_int_equal(ngx_http_order_edit_jrec_decode(bad, size, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &s), OE_BAD);

    free(bad);
    free(rec);
}


/* a segment image: SEG, then ENQ records with the given bodies */

typedef struct {
    unsigned char   *buf;
    size_t           len;
    size_t           off[8];
    size_t           n;
} oe_image_t;


static void
oe_image(oe_image_t *im, const char **bodies, size_t nbodies)
{
    size_t     i, size;
    oe_seg_t   s;
    oe_enq_t   e;

    assert_true(nbodies < 8);

    oe_seg_init(&s, "edits");
    size = ngx_http_order_edit_jrec_seg_size(&s);

    for (i = 0; i < nbodies; i++) {
        oe_enq_init(&e, oe_strs, bodies[i], strlen(bodies[i]));
        size += ngx_http_order_edit_jrec_enq_size(&e);
    }

    im->buf = malloc(size);
    assert_non_null(im->buf);

    im->off[0] = 0;
    im->len = ngx_http_order_edit_jrec_seg_encode(im->buf, &s);

    for (i = 0; i < nbodies; i++) {
        oe_enq_init(&e, oe_strs, bodies[i], strlen(bodies[i]));
        e.id = i + 1;
        im->off[i + 1] = im->len;
        im->len += ngx_http_order_edit_jrec_enq_encode(im->buf + im->len, &e);
    }

    im->n = nbodies + 1;
    assert_int_equal(im->len, size);
}


/*
 * The walk replay does: records while they decode; at a record that does
 * not (BAD, or SHORT with more bytes after it), resync; when resync finds
 * nothing, the rest is a torn tail.  Returns the offsets of the records
 * found; *corrupt and *torn say where the walk skipped.
 */

static size_t
oe_walk(const unsigned char *buf, size_t avail, size_t *found, size_t max,
    size_t *corrupt, size_t *ncorrupt, size_t *torn)
{
    size_t    off, next, n;
    oe_rec_t  r;

    n = 0;
    off = 0;
    *ncorrupt = 0;
    *torn = avail;

    while (off < avail) {
        if (ngx_http_order_edit_jrec_decode(buf + off, avail - off, &r)
            == OE_OK)
        {
            assert_true(n < max);
            found[n++] = off;
            off += r.size;
            continue;
        }

        next = ngx_http_order_edit_jrec_resync(buf, avail, off);
        assert_true(next > off);
        assert_true(next <= avail);

        if (next == avail) {
            *torn = off;
            break;
        }

        assert_true(*ncorrupt < max);
        corrupt[(*ncorrupt)++] = off;
        off = next;
    }

    return n;
}


static void
test_resync_corrupt_middle(void **state)
{
    size_t           found[8], corrupt[8], nc, torn, n, i, at;
    oe_rec_t         r;
    oe_image_t       im;
    unsigned char   *buf;
    const char      *bodies[] = { "{\"id\":1}", "{\"id\":22,\"x\":[1,2,3]}",
                                  "{\"id\":333}" };

    (void) state;

    oe_image(&im, bodies, 3);

    /* a flipped bit anywhere in the middle ENQ's header or payload */
    for (at = im.off[2]; at < im.off[3]; at += 3) {
        buf = oe_dup(im.buf, im.len);
        buf[at] ^= 0x10;

        assert_int_equal(ngx_http_order_edit_jrec_decode(buf, im.len, &r),
                         OE_OK);

        if (ngx_http_order_edit_jrec_decode(buf + im.off[2],
                                            im.len - im.off[2], &r)
            == OE_OK)
        {
            /* the padding: not covered, not read */
            assert_true(at >= im.off[2] + OE_HDR + r.len);
            free(buf);
            continue;
        }

        assert_int_equal(ngx_http_order_edit_jrec_resync(buf, im.len,
                                                         im.off[2]),
                         im.off[3]);

        n = oe_walk(buf, im.len, found, 8, corrupt, &nc, &torn);
        assert_int_equal(n, 3);
        assert_int_equal(found[0], im.off[0]);
        assert_int_equal(found[1], im.off[1]);
        assert_int_equal(found[2], im.off[3]);
        assert_int_equal(nc, 1);
        assert_int_equal(corrupt[0], im.off[2]);
        assert_int_equal(torn, im.len);

        free(buf);
    }

    /* intact, the walk finds all four */
    n = oe_walk(im.buf, im.len, found, 8, corrupt, &nc, &torn);
    assert_int_equal(n, 4);
    assert_int_equal(nc, 0);

    for (i = 0; i < 4; i++) {
        assert_int_equal(found[i], im.off[i]);
    }

    free(im.buf);
}


/*
 * A body holding "OEJ1" and a plausible header at an 8-aligned offset of
 * the file: the record around it decodes whole, and when that record is
 * corrupt, resync passes over the stray header (its crc is wrong) to the
 * next real record, or to the end.
 */

static void
test_resync_stray_magic(void **state)
{
    size_t           size, at, k, found[8], corrupt[8], nc, torn, n, len;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char    body[256];
    unsigned char   *rec, *buf;

    (void) state;

    memset(body, '.', sizeof(body));
    oe_enq_init(&e, oe_tiny, body, sizeof(body));

    /* payload starts at 16, the body at 16 + 40 + 6 = 62 */
    for (at = 64; at + OE_HDR <= 62 + sizeof(body); at += 16) {
        k = at - 62;
        memcpy(body + k, "OEJ1", 4);
        body[k + 4] = NGX_HTTP_ORDER_EDIT_JREC_ENQ;
        body[k + 5] = 0;
        body[k + 6] = 0;
        body[k + 7] = 0;
        oe_put32(body + k + 8, 8);
        oe_put32(body + k + 12, 0x12345678);
    }

    rec = oe_enq_record(&e, &size);

    buf = malloc(2 * size);
    assert_non_null(buf);
    memcpy(buf, rec, size);
    memcpy(buf + size, rec, size);

    n = oe_walk(buf, 2 * size, found, 8, corrupt, &nc, &torn);
    assert_int_equal(n, 2);
    assert_int_equal(found[1], size);
    assert_int_equal(nc, 0);

    /* corrupt the first: resync lands on the second, not inside */
    buf[12] ^= 1;
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, 2 * size, 0), size);

    /* corrupt both: nothing valid, the rest is a torn tail */
    buf[size + 12] ^= 1;
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, 2 * size, 0),
                     2 * size);

    n = oe_walk(buf, 2 * size, found, 8, corrupt, &nc, &torn);
    assert_int_equal(n, 0);
    assert_int_equal(torn, 0);

    /* a stray header whose crc is right is a record: the crc is the test */
    len = 8;
    at = 64;
    memset(buf + at + OE_HDR, 'r', len);
    oe_reseal(buf + at, (uint32_t) len);
    assert_int_equal(ngx_http_order_edit_jrec_decode(buf + at, 2 * size - at,
                                                     &r),
                     OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, 2 * size, 0), at);

    free(buf);
    free(rec);
}


static void
test_resync_torn_tail(void **state)
{
    size_t           cut, avail, found[8], corrupt[8], nc, torn, n;
    oe_image_t       im;
    unsigned char   *buf;
    const char      *bodies[] = { "{\"id\":1}", "{\"id\":22}",
                                  "{\"id\":333,\"tail\":true}" };

    (void) state;

    oe_image(&im, bodies, 3);

    /* the last record torn anywhere */
    for (cut = 1; cut < im.len - im.off[3]; cut++) {
        avail = im.len - cut;
        buf = oe_dup(im.buf, avail);

        assert_int_equal(ngx_http_order_edit_jrec_resync(buf, avail,
                                                         im.off[3]),
                         avail);

        n = oe_walk(buf, avail, found, 8, corrupt, &nc, &torn);
        assert_int_equal(n, 3);
        assert_int_equal(nc, 0);
        assert_int_equal(torn, im.off[3]);

        free(buf);
    }

    /* whole but garbage (a write that never reached the disk): torn too */
    buf = oe_dup(im.buf, im.len);
    memset(buf + im.off[3], 0, im.len - im.off[3]);
    n = oe_walk(buf, im.len, found, 8, corrupt, &nc, &torn);
    assert_int_equal(n, 3);
    assert_int_equal(nc, 0);
    assert_int_equal(torn, im.off[3]);

    /* resync from the last aligned offsets: avail, never past it */
    for (cut = im.len - 24; cut < im.len; cut += 8) {
        assert_int_equal(ngx_http_order_edit_jrec_resync(buf, im.len, cut),
                         im.len);
    }

    free(buf);
    free(im.buf);
}


/*
 * A middle record whose length field was corrupted upwards is SHORT, not
 * BAD (its crc cannot be checked), yet records follow it: SHORT means a
 * torn tail only when resync finds nothing after it.
 */

static void
test_resync_short_middle(void **state)
{
    size_t           found[8], corrupt[8], nc, torn, n;
    oe_rec_t         r;
    oe_image_t       im;
    unsigned char   *buf;
    const char      *bodies[] = { "{\"id\":1}", "{\"id\":22}", "{\"id\":3}" };

    (void) state;

    oe_image(&im, bodies, 3);
    buf = oe_dup(im.buf, im.len);
    buf[im.off[2] + 9] ^= 0x40;

    assert_int_equal(ngx_http_order_edit_jrec_decode(buf + im.off[2],
                                                     im.len - im.off[2], &r),
                     OE_SHORT);
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, im.len, im.off[2]),
                     im.off[3]);

    n = oe_walk(buf, im.len, found, 8, corrupt, &nc, &torn);
    assert_int_equal(n, 3);
    assert_int_equal(found[2], im.off[3]);
    assert_int_equal(nc, 1);
    assert_int_equal(corrupt[0], im.off[2]);
    assert_int_equal(torn, im.len);

    free(buf);
    free(im.buf);
}


/* resync looks at every aligned offset, the very next one included */

static void
test_resync_next_offset(void **state)
{
    size_t           n1, n2, gap, off, found[8], corrupt[8], nc, torn, n;
    oe_seg_t         s;
    oe_enq_t         e;
    unsigned char   *seg, *enq, *buf;

    (void) state;

    oe_seg_init(&s, "edits");
    seg = oe_seg_record(&s, &n1);
    oe_enq_init(&e, oe_tiny, "{}", 2);
    enq = oe_enq_record(&e, &n2);

    /* garbage of 8, 16, ... bytes between two records */
    for (gap = 8; gap <= 64; gap += 8) {
        buf = malloc(n1 + gap + n2);
        assert_non_null(buf);
        memcpy(buf, seg, n1);
        memset(buf + n1, 0xee, gap);
        memcpy(buf + n1 + gap, enq, n2);

        for (off = n1; off < n1 + gap; off += 8) {
            assert_int_equal(ngx_http_order_edit_jrec_resync(buf,
                                 n1 + gap + n2, off),
                             n1 + gap);
        }

        n = oe_walk(buf, n1 + gap + n2, found, 8, corrupt, &nc, &torn);
        assert_int_equal(n, 2);
        assert_int_equal(found[1], n1 + gap);
        assert_int_equal(nc, 1);
        assert_int_equal(corrupt[0], n1);

        free(buf);
    }

    /* the smallest record (no payload) ending exactly at avail */
    buf = calloc(1, 24);
    assert_non_null(buf);
    memcpy(buf + 8, seg, 8);
    oe_reseal(buf + 8, 0);
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, 24, 0), 8);
    assert_int_equal(ngx_http_order_edit_jrec_resync(buf, 23, 0), 23);
    free(buf);

    free(enq);
    free(seg);
}


static void
test_jack(void **state)
{
    size_t          i, bit;
    uint32_t        off, offs[] = { 0, 8, 4096, 0x7fffffff, UINT32_MAX };
    unsigned        kind, k;
    unsigned char   buf[NGX_HTTP_ORDER_EDIT_JACK_SIZE + 8], copy[16];

    (void) state;

    for (k = NGX_HTTP_ORDER_EDIT_JACK_DELIVERED;
         k <= NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK;
         k++)
    {
        for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            memset(buf, 0xa5, sizeof(buf));
            ngx_http_order_edit_jack_encode(buf, k, offs[i]);

            /* exactly 16 bytes, the layout of the header comment */
            assert_int_equal(buf[16], 0xa5);
            assert_memory_equal(buf, "OEJA", 4);
            assert_int_equal(oe_get32(buf + 4),
                             oe_crc32c_ref(0, buf + 8, 8));
            assert_int_equal(buf[8], k);
            assert_int_equal(buf[9] | buf[10] | buf[11], 0);
            assert_int_equal(oe_get32(buf + 12), offs[i]);

            kind = 0;
            off = 1;
            assert_int_equal(ngx_http_order_edit_jack_decode(buf, &kind,
                                                             &off),
                             OE_OK);
            assert_int_equal(kind, k);
            assert_int_equal(off, offs[i]);
        }
    }

    ngx_http_order_edit_jack_encode(buf, NGX_HTTP_ORDER_EDIT_JACK_DROPPED,
                                    4096);

    /* any single flipped bit */
    for (bit = 0; bit < 128; bit++) {
        memcpy(copy, buf, 16);
        copy[bit / 8] ^= (unsigned char) (1u << (bit % 8));
        assert_int_equal(ngx_http_order_edit_jack_decode(copy, &kind, &off),
                         OE_BAD);
    }

    /* a segment record is not an ack, nor are zeros */
    memcpy(copy, "OEJ1", 4);
    memcpy(copy + 4, buf + 4, 12);
    assert_int_equal(ngx_http_order_edit_jack_decode(copy, &kind, &off),
                     OE_BAD);

    memset(copy, 0, 16);
    assert_int_equal(ngx_http_order_edit_jack_decode(copy, &kind, &off),
                     OE_BAD);

    /* unknown kinds, with a valid crc */
    for (k = 0; k < 256; k++) {
        if (k >= NGX_HTTP_ORDER_EDIT_JACK_DELIVERED
            && k <= NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK)
        {
            continue;
        }

        memcpy(copy, buf, 16);
        copy[8] = (unsigned char) k;
        oe_put32(copy + 4, ngx_http_order_edit_crc32c(0, copy + 8, 8));
        assert_int_equal(ngx_http_order_edit_jack_decode(copy, &kind, &off),
                         OE_BAD);
    }
}


/*
 * A flipped bit of the length field: the record never decodes OK (SHORT
 * when the length now claims bytes past the buffer, BAD otherwise), and
 * a reader resyncing from it finds the intact record that follows, so it
 * is a corrupt record, not a torn tail.
 */

static void
test_length_flip_resyncs(void **state)
{
    size_t           size, bit;
    oe_enq_t         e;
    oe_rec_t         r;
    unsigned char   *rec, *two;

    (void) state;

    oe_enq_init(&e, oe_tiny, "{\"id\":1}", 8);
    rec = oe_enq_record(&e, &size);

    for (bit = 64; bit < 96; bit++) {
        two = malloc(2 * size);
        assert_non_null(two);
        memcpy(two, rec, size);
        memcpy(two + size, rec, size);
        two[bit / 8] ^= (unsigned char) (1u << (bit % 8));

        if (ngx_http_order_edit_jrec_decode(two, 2 * size, &r) == OE_OK
            && r.size == size)
        {
            fail_msg("length bit %zu flipped: decoded OK", bit - 64);
        }

        assert_int_equal(ngx_http_order_edit_jrec_resync(two, 2 * size, 0),
                         size);
        free(two);
    }

    free(rec);
}


/* reserved fields must be 0 even when the crc is right */

static void
test_reserved_fields(void **state)
{
    size_t           size;
    unsigned         kind;
    uint32_t         off;
    oe_seg_t         s;
    oe_rec_t         r;
    unsigned char   *rec, ack[16];
    ngx_http_order_edit_jrec_rc_e  rc;

    (void) state;

    oe_seg_init(&s, "edits");
    rec = oe_seg_record(&s, &size);
    rec[OE_HDR + 30] = 1;
    oe_reseal(rec, OE_SEG_FIXED + 5);
    assert_int_equal(ngx_http_order_edit_jrec_decode(rec, size, &r), OE_OK);
    rc = ngx_http_order_edit_jrec_seg_parse(&r, &s);
    free(rec);

    if (rc != OE_BAD) {
        fail_msg("SEG with reserved u16 = 1 accepted");
    }

    ngx_http_order_edit_jack_encode(ack, NGX_HTTP_ORDER_EDIT_JACK_DELIVERED,
                                    64);
    ack[9] = 1;
    oe_put32(ack + 4, ngx_http_order_edit_crc32c(0, ack + 8, 8));

    if (ngx_http_order_edit_jack_decode(ack, &kind, &off) != OE_BAD) {
        fail_msg("ack with reserved byte = 1 accepted");
    }
}


/*
 * What the module writes with pwritev: the head, then the strings and the
 * body from where they lie, then pad() zero bytes.  Put together, that is
 * a record that decodes and parses back to the same webhook.
 */

static void
test_enq_head_pieces(void **state)
{
    int              i;
    char             body[32];
    size_t           size, pad, len, n;
    oe_enq_t         e, d;
    oe_rec_t         r;
    unsigned char   *buf, *p;

    (void) state;

    for (n = 0; n < 18; n++) {
        memset(body, 'a' + (int) n, sizeof(body));
        oe_enq_init(&e, oe_strs, body, n);

        size = ngx_http_order_edit_jrec_enq_size(&e);
        buf = malloc(size);
        assert_non_null(buf);

        assert_int_equal(ngx_http_order_edit_jrec_enq_head(buf, &e, &pad),
                         size);

        p = buf + NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD;

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
            memcpy(p, e.str[i], e.len[i]);
            p += e.len[i];
        }

        memcpy(p, body, n);
        p += n;
        memset(p, 0, pad);
        p += pad;

        len = p - buf;
        assert_int_equal(len, size);
        assert_int_equal(len % 8, 0);

        assert_int_equal(ngx_http_order_edit_jrec_decode(buf, size, &r),
                         OE_OK);
        assert_int_equal(ngx_http_order_edit_jrec_enq_parse(&r, &d), OE_OK);
        assert_int_equal(d.body_len, n);
        assert_memory_equal(d.body, body, n);
        assert_int_equal(d.id, e.id);

        free(buf);
    }
}


/* what decode_gen says of the record at off */

static ngx_http_order_edit_jrec_rc_e
oe_rc_gen(const unsigned char *buf, size_t avail, size_t off, uint32_t gen)
{
    ngx_http_order_edit_jrec_t  r;

    return ngx_http_order_edit_jrec_decode_gen(buf + off, avail - off, gen,
                                               &r);
}


/* records of generation gen from off until nothing of it follows */

static size_t
oe_walk_gen(const unsigned char *buf, size_t avail, size_t off, uint32_t gen)
{
    size_t                      n;
    ngx_http_order_edit_jrec_t  r;

    n = 0;

    while (off < avail) {
        if (ngx_http_order_edit_jrec_decode_gen(buf + off, avail - off, gen,
                                                &r)
            == OE_OK)
        {
            n++;
            off += r.size;
            continue;
        }

        off = ngx_http_order_edit_jrec_resync_gen(buf, avail, off, gen);
    }

    return n;
}


/*
 * A recycled segment: the records of this use, then those of the file's
 * last use (and zeros past them).  Only this use's records decode; the
 * first older one is STALE, and nothing after it is taken for a record,
 * not even an older one whose generation shares the header's 16 bits.
 */

static void
test_generation(void **state)
{
    size_t           size, n1, off, avail;
    uint32_t         g1, g2, g3;
    oe_seg_t         s1, s2, s3, got;
    oe_enq_t         e, back;
    unsigned char   *buf, *segrec, rec1[1024];
    const char      *body = "{\"id\":7}";
    ngx_http_order_edit_jrec_t  r;

    (void) state;

    oe_seg_init(&s1, "edits");
    s2 = s1;
    s2.seq = s1.seq + 1;
    s3 = s1;
    s3.gen = s1.gen + 1;

    g1 = ngx_http_order_edit_jrec_seg_gen(&s1);
    g2 = ngx_http_order_edit_jrec_seg_gen(&s2);
    g3 = ngx_http_order_edit_jrec_seg_gen(&s3);

    /* every use of a file its own, never 0; format 1 has none */
    assert_true(g1 != 0 && g2 != 0 && g3 != 0);
    assert_true(g1 != g2 && g1 != g3 && g2 != g3);
    s3.version = 1;
    assert_int_equal(ngx_http_order_edit_jrec_seg_gen(&s3), 0);

    oe_enq_init(&e, oe_strs, body, strlen(body));
    size = ngx_http_order_edit_jrec_enq_size(&e);
    assert_true(size <= sizeof(rec1));

    /* the last use's file: its SEG and 8 records of g1, then zeros */
    avail = 16384;
    buf = calloc(1, avail);
    assert_non_null(buf);

    segrec = oe_seg_record(&s1, &n1);
    memcpy(buf, segrec, n1);
    free(segrec);

    for (off = n1; off < n1 + 8 * size; off += size) {
        e.id = off;
        assert_int_equal(ngx_http_order_edit_jrec_enq_encode_gen(buf + off,
                                                                 &e, g1),
                         size);
    }

    /* the SEG record tells the generation: format 2 */
    assert_int_equal(ngx_http_order_edit_jrec_decode(buf, avail, &r), OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_seg_parse(&r, &got), OE_OK);
    assert_int_equal(got.version, 2);
    assert_int_equal(ngx_http_order_edit_jrec_seg_gen(&got), g1);

    assert_int_equal(ngx_http_order_edit_jrec_decode_gen(buf + n1,
                                                         avail - n1, g1, &r),
                     OE_OK);
    assert_int_equal(ngx_http_order_edit_jrec_enq_parse(&r, &back), OE_OK);
    assert_true(back.id == n1);

    /* without its generation a format 2 record is not trusted */
    assert_int_equal(ngx_http_order_edit_jrec_decode(buf + n1, avail - n1,
                                                     &r),
                     OE_BAD);

    /* recycled: a new SEG of the same size, two records of g2 */
    segrec = oe_seg_record(&s2, &off);
    assert_int_equal(off, n1);
    memcpy(buf, segrec, n1);
    free(segrec);

    for (off = n1; off < n1 + 2 * size; off += size) {
        e.id = 1000 + off;
        assert_int_equal(ngx_http_order_edit_jrec_enq_encode_gen(buf + off,
                                                                 &e, g2),
                         size);
    }

    assert_int_equal(oe_walk_gen(buf, avail, n1, g2), 2);

    /* the first leftover is STALE, so are the zeros past the last one */
    off = n1 + 2 * size;
    assert_int_equal(oe_rc_gen(buf, avail, off, g2), OE_STALE);
    assert_int_equal(ngx_http_order_edit_jrec_resync_gen(buf, avail, off, g2),
                     avail);
    off = n1 + 8 * size;
    assert_int_equal(oe_rc_gen(buf, avail, off, g2), OE_STALE);

    /* an older use whose generation shares the low 16 bits: the crc */
    g3 = (g2 & 0xffff) | ((g2 ^ 0x10000) & 0xffff0000);
    off = n1 + 2 * size;
    assert_int_equal(ngx_http_order_edit_jrec_enq_encode_gen(buf + off, &e,
                                                             g3),
                     size);
    assert_int_equal(oe_rc_gen(buf, avail, off, g2), OE_BAD);
    assert_int_equal(ngx_http_order_edit_jrec_resync_gen(buf, avail, off, g2),
                     avail);
    assert_int_equal(oe_walk_gen(buf, avail, n1, g2), 2);

    /* a format 1 record left by an older module: stale too */
    assert_int_equal(ngx_http_order_edit_jrec_enq_encode(rec1, &e), size);
    memcpy(buf + off, rec1, size);
    assert_int_equal(oe_rc_gen(buf, avail, off, g2), OE_STALE);
    assert_int_equal(oe_walk_gen(buf, avail, n1, g2), 2);

    /* a corrupt record of this use is skipped, not taken for the end */
    e.id = 5000;
    assert_int_equal(ngx_http_order_edit_jrec_enq_encode_gen(buf + off, &e,
                                                             g2),
                     size);
    buf[n1 + size + 40] ^= 0x01;
    assert_int_equal(ngx_http_order_edit_jrec_resync_gen(buf, avail,
                                                         n1 + size, g2),
                     off);
    assert_int_equal(oe_walk_gen(buf, avail, n1, g2), 2);

    free(buf);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_crc32c_paths),
        cmocka_unit_test(test_crc32c_streams),
        cmocka_unit_test(test_enq_round_trip),
        cmocka_unit_test(test_enq_head_pieces),
        cmocka_unit_test(test_enq_empty),
        cmocka_unit_test(test_enq_body_lengths),
        cmocka_unit_test(test_enq_large_body),
        cmocka_unit_test(test_enq_too_long),
        cmocka_unit_test(test_seg_round_trip),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_enq_parse_lengths),
        cmocka_unit_test(test_seg_parse_lengths),
        cmocka_unit_test(test_resync_corrupt_middle),
        cmocka_unit_test(test_resync_stray_magic),
        cmocka_unit_test(test_resync_torn_tail),
        cmocka_unit_test(test_resync_short_middle),
        cmocka_unit_test(test_resync_next_offset),
        cmocka_unit_test(test_jack),
        cmocka_unit_test(test_length_flip_resyncs),
        cmocka_unit_test(test_reserved_fields),
    };

    return cmocka_run_group_tests_name("jrec", tests, NULL, NULL);
}
