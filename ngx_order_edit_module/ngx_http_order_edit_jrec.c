
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <string.h>

#include "ngx_http_order_edit_jrec.h"


#define NGX_HTTP_ORDER_EDIT_JREC_ALIGN(n)  (((n) + 7) & ~((size_t) 7))

/* id, received_ms, order_id, six string lengths, the body length */
#define NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED  (3 * 8 + 6 * 2 + 4)

#if (NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD                                     \
     != NGX_HTTP_ORDER_EDIT_JREC_HDR + NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED)
#error "NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD does not match the format"
#endif

/* gen, seq, created_ms, pid, zone length, reserved */
#define NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED  (3 * 8 + 4 + 2 + 2)


static uint32_t  ngx_http_order_edit_crc32c_table[8][256];
static int       ngx_http_order_edit_crc32c_ready;


static void ngx_http_order_edit_crc32c_init(void);
static void ngx_http_order_edit_jrec_header(unsigned char *buf,
    unsigned type, unsigned version, size_t len);
static void ngx_http_order_edit_put16(unsigned char *p, uint32_t v);
static void ngx_http_order_edit_put32(unsigned char *p, uint32_t v);
static void ngx_http_order_edit_put64(unsigned char *p, uint64_t v);
static uint32_t ngx_http_order_edit_get16(const unsigned char *p);
static uint32_t ngx_http_order_edit_get32(const unsigned char *p);
static uint64_t ngx_http_order_edit_get64(const unsigned char *p);


/*
 * CRC32C (Castagnoli), as iSCSI, ext4 and most journals use it: it finds
 * every burst error up to 32 bits, and x86 computes it in hardware.  The
 * portable path is slicing-by-8 over tables built on first use.
 */

#if (defined __x86_64__ && defined __GNUC__)

/*
 * crc32 takes 3 cycles and a new one can start every cycle: three
 * streams over three blocks in step, joined by shifting a block's crc
 * over the next block's length (a linear map: shift[k][b] is the crc of
 * byte b at position k followed by a block of zeros), run about 3 times
 * as fast as one (bench/README.md: the journal's CRC of a 17 KB record,
 * on the event loop).  The tables are made when the library is loaded,
 * before any thread can use them.
 */

#define NGX_HTTP_ORDER_EDIT_CRC_BLOCK  256

static uint32_t  ngx_http_order_edit_crc32c_shift[4][256];
static int       ngx_http_order_edit_crc32c_shift_ready;


__attribute__((target("sse4.2"), constructor))
static void
ngx_http_order_edit_crc32c_shift_init(void)
{
    size_t    i;
    uint32_t  k, b;
    uint64_t  c;

    __builtin_cpu_init();

    if (!__builtin_cpu_supports("sse4.2")) {
        return;
    }

    for (k = 0; k < 4; k++) {
        for (b = 0; b < 256; b++) {
            c = (uint64_t) b << (8 * k);

            for (i = 0; i < NGX_HTTP_ORDER_EDIT_CRC_BLOCK; i += 8) {
                c = __builtin_ia32_crc32di(c, 0);
            }

            ngx_http_order_edit_crc32c_shift[k][b] = (uint32_t) c;
        }
    }

    ngx_http_order_edit_crc32c_shift_ready = 1;
}


static uint64_t
ngx_http_order_edit_crc32c_shift_block(uint64_t c)
{
    return ngx_http_order_edit_crc32c_shift[0][c & 0xff]
           ^ ngx_http_order_edit_crc32c_shift[1][(c >> 8) & 0xff]
           ^ ngx_http_order_edit_crc32c_shift[2][(c >> 16) & 0xff]
           ^ ngx_http_order_edit_crc32c_shift[3][(c >> 24) & 0xff];
}


__attribute__((target("sse4.2")))
static uint32_t
ngx_http_order_edit_crc32c_hw(uint32_t crc, const unsigned char *p,
    size_t len)
{
    size_t    i;
    uint64_t  c, c1, c2, v, v1, v2;

    c = crc;

    while (len >= 3 * NGX_HTTP_ORDER_EDIT_CRC_BLOCK
           && ngx_http_order_edit_crc32c_shift_ready)
    {
        c1 = 0;
        c2 = 0;

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_CRC_BLOCK; i += 8) {
            memcpy(&v, p + i, 8);
            memcpy(&v1, p + NGX_HTTP_ORDER_EDIT_CRC_BLOCK + i, 8);
            memcpy(&v2, p + 2 * NGX_HTTP_ORDER_EDIT_CRC_BLOCK + i, 8);

            c = __builtin_ia32_crc32di(c, v);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }

        c = ngx_http_order_edit_crc32c_shift_block(c) ^ c1;
        c = ngx_http_order_edit_crc32c_shift_block(c) ^ c2;

        p += 3 * NGX_HTTP_ORDER_EDIT_CRC_BLOCK;
        len -= 3 * NGX_HTTP_ORDER_EDIT_CRC_BLOCK;
    }

    while (len >= 8) {
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }

    crc = (uint32_t) c;

    while (len--) {
        crc = __builtin_ia32_crc32qi(crc, *p++);
    }

    return crc;
}

#endif


uint32_t
ngx_http_order_edit_crc32c(uint32_t crc, const void *data, size_t len)
{
    uint32_t              c, lo, hi;
    const unsigned char  *p;

    p = data;
    c = ~crc;

#if (defined __x86_64__ && defined __GNUC__)
    if (__builtin_cpu_supports("sse4.2")) {
        return ~ngx_http_order_edit_crc32c_hw(c, p, len);
    }
#endif

    if (!ngx_http_order_edit_crc32c_ready) {
        ngx_http_order_edit_crc32c_init();
    }

    while (len >= 8) {
        lo = ngx_http_order_edit_get32(p) ^ c;
        hi = ngx_http_order_edit_get32(p + 4);

        c = ngx_http_order_edit_crc32c_table[7][lo & 0xff]
            ^ ngx_http_order_edit_crc32c_table[6][(lo >> 8) & 0xff]
            ^ ngx_http_order_edit_crc32c_table[5][(lo >> 16) & 0xff]
            ^ ngx_http_order_edit_crc32c_table[4][lo >> 24]
            ^ ngx_http_order_edit_crc32c_table[3][hi & 0xff]
            ^ ngx_http_order_edit_crc32c_table[2][(hi >> 8) & 0xff]
            ^ ngx_http_order_edit_crc32c_table[1][(hi >> 16) & 0xff]
            ^ ngx_http_order_edit_crc32c_table[0][hi >> 24];

        p += 8;
        len -= 8;
    }

    while (len--) {
        c = ngx_http_order_edit_crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    }

    return ~c;
}


static void
ngx_http_order_edit_crc32c_init(void)
{
    int       k;
    uint32_t  i, c;

    for (i = 0; i < 256; i++) {
        c = i;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }

        ngx_http_order_edit_crc32c_table[0][i] = c;
    }

    for (i = 0; i < 256; i++) {
        c = ngx_http_order_edit_crc32c_table[0][i];

        for (k = 1; k < 8; k++) {
            c = ngx_http_order_edit_crc32c_table[0][c & 0xff] ^ (c >> 8);
            ngx_http_order_edit_crc32c_table[k][i] = c;
        }
    }

    ngx_http_order_edit_crc32c_ready = 1;
}


size_t
ngx_http_order_edit_jrec_enq_size(const ngx_http_order_edit_jrec_enq_t *e)
{
    int     i;
    size_t  len;

    len = NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED + e->body_len;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        if (e->len[i] > 0xffff) {
            return 0;
        }

        len += e->len[i];
    }

    if (len > NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN) {
        return 0;
    }

    return NGX_HTTP_ORDER_EDIT_JREC_HDR + NGX_HTTP_ORDER_EDIT_JREC_ALIGN(len);
}


size_t
ngx_http_order_edit_jrec_enq_head(unsigned char *head,
    const ngx_http_order_edit_jrec_enq_t *e, size_t *pad)
{
    return ngx_http_order_edit_jrec_enq_head_gen(head, e, 0, pad);
}


size_t
ngx_http_order_edit_jrec_enq_head_gen(unsigned char *head,
    const ngx_http_order_edit_jrec_enq_t *e, uint32_t gen, size_t *pad)
{
    int             i;
    size_t          size, len;
    uint32_t        crc;
    unsigned char  *p;

    size = ngx_http_order_edit_jrec_enq_size(e);
    if (size == 0) {
        return 0;
    }

    p = head + NGX_HTTP_ORDER_EDIT_JREC_HDR;

    ngx_http_order_edit_put64(p, e->id);
    ngx_http_order_edit_put64(p + 8, e->received_ms);
    ngx_http_order_edit_put64(p + 16, e->order_id);
    p += 24;

    len = NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED + e->body_len;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        ngx_http_order_edit_put16(p, (uint32_t) e->len[i]);
        len += e->len[i];
        p += 2;
    }

    ngx_http_order_edit_put32(p, (uint32_t) e->body_len);

    ngx_http_order_edit_put32(head, gen ? NGX_HTTP_ORDER_EDIT_JREC_MAGIC2
                                        : NGX_HTTP_ORDER_EDIT_JREC_MAGIC);
    head[4] = NGX_HTTP_ORDER_EDIT_JREC_ENQ;
    head[5] = 0;
    ngx_http_order_edit_put16(head + 6, gen & 0xffff);
    ngx_http_order_edit_put32(head + 8, (uint32_t) len);

    /* the crc runs over the pieces where they lie: no copy of the body */

    crc = ngx_http_order_edit_crc32c(gen, head, 12);
    crc = ngx_http_order_edit_crc32c(crc, head + NGX_HTTP_ORDER_EDIT_JREC_HDR,
                                     NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED);

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        if (e->len[i]) {
            crc = ngx_http_order_edit_crc32c(crc, e->str[i], e->len[i]);
        }
    }

    if (e->body_len) {
        crc = ngx_http_order_edit_crc32c(crc, e->body, e->body_len);
    }

    ngx_http_order_edit_put32(head + 12, crc);

    *pad = size - NGX_HTTP_ORDER_EDIT_JREC_HDR - len;

    return size;
}


size_t
ngx_http_order_edit_jrec_enq_encode(unsigned char *buf,
    const ngx_http_order_edit_jrec_enq_t *e)
{
    return ngx_http_order_edit_jrec_enq_encode_gen(buf, e, 0);
}


size_t
ngx_http_order_edit_jrec_enq_encode_gen(unsigned char *buf,
    const ngx_http_order_edit_jrec_enq_t *e, uint32_t gen)
{
    int             i;
    size_t          size, pad;
    unsigned char  *p;

    size = ngx_http_order_edit_jrec_enq_head_gen(buf, e, gen, &pad);
    if (size == 0) {
        return 0;
    }

    p = buf + NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        if (e->len[i]) {
            memcpy(p, e->str[i], e->len[i]);
            p += e->len[i];
        }
    }

    if (e->body_len) {
        memcpy(p, e->body, e->body_len);
        p += e->body_len;
    }

    memset(p, 0, pad);

    return size;
}


size_t
ngx_http_order_edit_jrec_seg_size(const ngx_http_order_edit_jrec_seg_t *s)
{
    if (s->zone_len > 0xffff) {
        return 0;
    }

    return NGX_HTTP_ORDER_EDIT_JREC_HDR
           + NGX_HTTP_ORDER_EDIT_JREC_ALIGN(NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED
                                            + s->zone_len);
}


uint32_t
ngx_http_order_edit_jrec_seg_gen(const ngx_http_order_edit_jrec_seg_t *s)
{
    uint32_t       gen;
    unsigned char  b[16];

    if (s->version == 1) {
        return 0;
    }

    /* (gen, seq) names one use of one file: no other use has both */
    ngx_http_order_edit_put64(b, s->gen);
    ngx_http_order_edit_put64(b + 8, s->seq);

    gen = ngx_http_order_edit_crc32c(0, b, sizeof(b));

    return gen ? gen : 1;
}


size_t
ngx_http_order_edit_jrec_seg_encode(unsigned char *buf,
    const ngx_http_order_edit_jrec_seg_t *s)
{
    size_t          size, len;
    unsigned char  *p;

    size = ngx_http_order_edit_jrec_seg_size(s);
    if (size == 0) {
        return 0;
    }

    p = buf + NGX_HTTP_ORDER_EDIT_JREC_HDR;

    ngx_http_order_edit_put64(p, s->gen);
    ngx_http_order_edit_put64(p + 8, s->seq);
    ngx_http_order_edit_put64(p + 16, s->created_ms);
    ngx_http_order_edit_put32(p + 24, s->pid);
    ngx_http_order_edit_put16(p + 28, (uint32_t) s->zone_len);
    ngx_http_order_edit_put16(p + 30, 0);
    p += NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED;

    if (s->zone_len) {
        memcpy(p, s->zone, s->zone_len);
        p += s->zone_len;
    }

    len = p - (buf + NGX_HTTP_ORDER_EDIT_JREC_HDR);
    memset(p, 0, buf + size - p);

    ngx_http_order_edit_jrec_header(buf, NGX_HTTP_ORDER_EDIT_JREC_SEG,
                                    s->version == 1 ? 1 : 2, len);

    return size;
}


/* the payload is in place: the header's crc covers it */

static void
ngx_http_order_edit_jrec_header(unsigned char *buf, unsigned type,
    unsigned version, size_t len)
{
    uint32_t  crc;

    ngx_http_order_edit_put32(buf, version == 1
                                   ? NGX_HTTP_ORDER_EDIT_JREC_MAGIC
                                   : NGX_HTTP_ORDER_EDIT_JREC_MAGIC2);
    buf[4] = (unsigned char) type;
    buf[5] = 0;
    buf[6] = 0;
    buf[7] = 0;
    ngx_http_order_edit_put32(buf + 8, (uint32_t) len);

    crc = ngx_http_order_edit_crc32c(0, buf, 12);
    crc = ngx_http_order_edit_crc32c(crc, buf + NGX_HTTP_ORDER_EDIT_JREC_HDR,
                                     len);

    ngx_http_order_edit_put32(buf + 12, crc);
}


ngx_http_order_edit_jrec_rc_e
ngx_http_order_edit_jrec_decode(const unsigned char *buf, size_t avail,
    ngx_http_order_edit_jrec_t *rec)
{
    return ngx_http_order_edit_jrec_decode_gen(buf, avail, 0, rec);
}


ngx_http_order_edit_jrec_rc_e
ngx_http_order_edit_jrec_decode_gen(const unsigned char *buf, size_t avail,
    uint32_t gen, ngx_http_order_edit_jrec_t *rec)
{
    size_t    i, len, size;
    uint32_t  crc, magic;
    unsigned  version;

    if (avail < NGX_HTTP_ORDER_EDIT_JREC_HDR) {
        return NGX_HTTP_ORDER_EDIT_JREC_SHORT;
    }

    magic = ngx_http_order_edit_get32(buf);

    if (gen) {
        /* a format 2 segment: only ENQ records of this use belong */

        for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_HDR; i++) {
            if (buf[i]) {
                break;
            }
        }

        if (i == NGX_HTTP_ORDER_EDIT_JREC_HDR
            || magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC
            || (magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC2
                && ngx_http_order_edit_get16(buf + 6) != (gen & 0xffff)))
        {
            return NGX_HTTP_ORDER_EDIT_JREC_STALE;
        }

        if (magic != NGX_HTTP_ORDER_EDIT_JREC_MAGIC2
            || buf[4] != NGX_HTTP_ORDER_EDIT_JREC_ENQ || buf[5] != 0)
        {
            return NGX_HTTP_ORDER_EDIT_JREC_BAD;
        }

        version = 2;

    } else if (magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC
               && (buf[4] == NGX_HTTP_ORDER_EDIT_JREC_SEG
                   || buf[4] == NGX_HTTP_ORDER_EDIT_JREC_ENQ)
               && buf[5] == 0 && buf[6] == 0 && buf[7] == 0)
    {
        version = 1;

    } else if (magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC2
               && buf[4] == NGX_HTTP_ORDER_EDIT_JREC_SEG
               && buf[5] == 0 && buf[6] == 0 && buf[7] == 0)
    {
        /* a format 2 segment's first record: its crc starts from 0 */
        version = 2;

    } else {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    len = ngx_http_order_edit_get32(buf + 8);

    if (len > NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN) {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    size = NGX_HTTP_ORDER_EDIT_JREC_HDR + NGX_HTTP_ORDER_EDIT_JREC_ALIGN(len);

    if (avail < size) {
        return NGX_HTTP_ORDER_EDIT_JREC_SHORT;
    }

    crc = ngx_http_order_edit_crc32c(gen, buf, 12);
    crc = ngx_http_order_edit_crc32c(crc, buf + NGX_HTTP_ORDER_EDIT_JREC_HDR,
                                     len);

    if (crc != ngx_http_order_edit_get32(buf + 12)) {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    rec->type = buf[4];
    rec->version = version;
    rec->payload = buf + NGX_HTTP_ORDER_EDIT_JREC_HDR;
    rec->len = len;
    rec->size = size;

    return NGX_HTTP_ORDER_EDIT_JREC_OK;
}


ngx_http_order_edit_jrec_rc_e
ngx_http_order_edit_jrec_enq_parse(const ngx_http_order_edit_jrec_t *rec,
    ngx_http_order_edit_jrec_enq_t *e)
{
    int                   i;
    uint64_t              need;
    const unsigned char  *p;

    if (rec->type != NGX_HTTP_ORDER_EDIT_JREC_ENQ
        || rec->len < NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED)
    {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    p = rec->payload;

    e->id = ngx_http_order_edit_get64(p);
    e->received_ms = ngx_http_order_edit_get64(p + 8);
    e->order_id = ngx_http_order_edit_get64(p + 16);
    p += 24;

    need = NGX_HTTP_ORDER_EDIT_JREC_ENQ_FIXED;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        e->len[i] = ngx_http_order_edit_get16(p);
        need += e->len[i];
        p += 2;
    }

    e->body_len = ngx_http_order_edit_get32(p);
    need += e->body_len;
    p += 4;

    /*
     * The lengths must add up to the payload exactly, not just fit; the
     * sum is 64-bit, so no crafted body length wraps it on a 32-bit host.
     */
    if (need != (uint64_t) rec->len) {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        e->str[i] = p;
        p += e->len[i];
    }

    e->body = p;

    return NGX_HTTP_ORDER_EDIT_JREC_OK;
}


ngx_http_order_edit_jrec_rc_e
ngx_http_order_edit_jrec_seg_parse(const ngx_http_order_edit_jrec_t *rec,
    ngx_http_order_edit_jrec_seg_t *s)
{
    const unsigned char  *p;

    if (rec->type != NGX_HTTP_ORDER_EDIT_JREC_SEG
        || rec->len < NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED)
    {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    p = rec->payload;

    s->gen = ngx_http_order_edit_get64(p);
    s->seq = ngx_http_order_edit_get64(p + 8);
    s->created_ms = ngx_http_order_edit_get64(p + 16);
    s->pid = ngx_http_order_edit_get32(p + 24);
    s->zone_len = ngx_http_order_edit_get16(p + 28);
    s->zone = p + NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED;
    s->version = rec->version;

    /* reserved is 0: a later format may give it a meaning */
    if (ngx_http_order_edit_get16(p + 30) != 0
        || NGX_HTTP_ORDER_EDIT_JREC_SEG_FIXED + s->zone_len != rec->len)
    {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    return NGX_HTTP_ORDER_EDIT_JREC_OK;
}


size_t
ngx_http_order_edit_jrec_resync(const unsigned char *buf, size_t avail,
    size_t from)
{
    return ngx_http_order_edit_jrec_resync_gen(buf, avail, from, 0);
}


size_t
ngx_http_order_edit_jrec_resync_gen(const unsigned char *buf, size_t avail,
    size_t from, uint32_t gen)
{
    size_t                      off;
    uint32_t                    magic;
    ngx_http_order_edit_jrec_t  rec;

    /*
     * A record's header only is not trusted: a valid crc over its whole
     * payload is, so a stray magic in a body is never mistaken for one.
     */

    for (off = NGX_HTTP_ORDER_EDIT_JREC_ALIGN(from + 1);
         off + NGX_HTTP_ORDER_EDIT_JREC_HDR <= avail;
         off += 8)
    {
        magic = ngx_http_order_edit_get32(buf + off);

        if ((magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC2
             || (magic == NGX_HTTP_ORDER_EDIT_JREC_MAGIC && gen == 0))
            && ngx_http_order_edit_jrec_decode_gen(buf + off, avail - off,
                                                   gen, &rec)
               == NGX_HTTP_ORDER_EDIT_JREC_OK)
        {
            return off;
        }
    }

    return avail;
}


void
ngx_http_order_edit_jack_encode(unsigned char *buf, unsigned kind,
    uint32_t offset)
{
    ngx_http_order_edit_put32(buf, NGX_HTTP_ORDER_EDIT_JACK_MAGIC);
    buf[8] = (unsigned char) kind;
    buf[9] = 0;
    buf[10] = 0;
    buf[11] = 0;
    ngx_http_order_edit_put32(buf + 12, offset);
    ngx_http_order_edit_put32(buf + 4,
                              ngx_http_order_edit_crc32c(0, buf + 8, 8));
}


ngx_http_order_edit_jrec_rc_e
ngx_http_order_edit_jack_decode(const unsigned char *buf, unsigned *kind,
    uint32_t *offset)
{
    if (ngx_http_order_edit_get32(buf) != NGX_HTTP_ORDER_EDIT_JACK_MAGIC
        || ngx_http_order_edit_get32(buf + 4)
           != ngx_http_order_edit_crc32c(0, buf + 8, 8)
        || buf[8] < NGX_HTTP_ORDER_EDIT_JACK_DELIVERED
        || buf[8] > NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK
        || buf[9] != 0 || buf[10] != 0 || buf[11] != 0)
    {
        return NGX_HTTP_ORDER_EDIT_JREC_BAD;
    }

    *kind = buf[8];
    *offset = ngx_http_order_edit_get32(buf + 12);

    return NGX_HTTP_ORDER_EDIT_JREC_OK;
}


/* little-endian on disk whatever the host: a journal may move hosts */

static void
ngx_http_order_edit_put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
}


static void
ngx_http_order_edit_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}


static void
ngx_http_order_edit_put64(unsigned char *p, uint64_t v)
{
    ngx_http_order_edit_put32(p, (uint32_t) v);
    ngx_http_order_edit_put32(p + 4, (uint32_t) (v >> 32));
}


static uint32_t
ngx_http_order_edit_get16(const unsigned char *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8);
}


static uint32_t
ngx_http_order_edit_get32(const unsigned char *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8)
           | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}


static uint64_t
ngx_http_order_edit_get64(const unsigned char *p)
{
    return (uint64_t) ngx_http_order_edit_get32(p)
           | ((uint64_t) ngx_http_order_edit_get32(p + 4) << 32);
}
