
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * libFuzzer harness for the journal's record codec.  Every input is a
 * segment file image, walked the way replay walks one: decode; an OK
 * record is parsed as SEG or ENQ; at a record that does not decode
 * (BAD, or SHORT with bytes after it) resync, and when resync finds
 * nothing the rest is a torn tail.  The walk is done twice: on the
 * input, and on a copy with every record's crc made valid, so that the
 * parsers see any payload.  The same bytes are also read as an ack file,
 * 16 bytes at a time.
 *
 * Beyond "no crash, no UB, no read outside the input" (ASan + UBSan; the
 * input is a heap buffer of exactly its size), the walk checks:
 *
 *   - offsets only increase and stay 8-byte aligned;
 *   - an OK record is 8-aligned in size, at least a header, within the
 *     input, its padding under 8 bytes;
 *   - SHORT only when the header or the length it claims runs past the
 *     input;
 *   - resync moves forward, to a record that decodes, or to the end;
 *   - a parsed ENQ's strings and body tile its payload exactly, and
 *     encoding it again gives the same bytes; a parsed SEG encodes to
 *     the same fields;
 *   - a decoded ack (also with its crc made valid) is of a known kind
 *     and encodes back to the same kind and offset.
 *
 *   make fuzz-jrec FUZZ_TIME=300
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_jrec.h"


#define OE_HDR        NGX_HTTP_ORDER_EDIT_JREC_HDR

/* the payloads' fixed parts, from the codec's layout */
#define OE_ENQ_FIXED  40
#define OE_SEG_FIXED  32


static volatile unsigned  oe_sink;


static void
oe_fail(const char *what, size_t off)
{
    fprintf(stderr, "fuzz-jrec: %s at offset %zu\n", what, off);
    abort();
}


/* every byte a parser points at is read: ASan checks each one */

static void
oe_touch(const unsigned char *p, size_t len)
{
    size_t    i;
    unsigned  sum;

    sum = 0;

    for (i = 0; i < len; i++) {
        sum += p[i];
    }

    oe_sink += sum;
}


static void
oe_check_enq(const unsigned char *data, size_t off,
    const ngx_http_order_edit_jrec_t *rec, uint32_t gen)
{
    int                              i;
    size_t                           size;
    unsigned char                   *copy;
    const unsigned char             *p, *end;
    ngx_http_order_edit_jrec_enq_t   e;

    if (ngx_http_order_edit_jrec_enq_parse(rec, &e)
        != NGX_HTTP_ORDER_EDIT_JREC_OK)
    {
        return;
    }

    /* the strings and the body follow each other and end the payload */
    p = rec->payload + OE_ENQ_FIXED;
    end = rec->payload + rec->len;

    for (i = 0; i < NGX_HTTP_ORDER_EDIT_JREC_NSTR; i++) {
        if (e.str[i] != p || e.len[i] > 0xffff
            || e.len[i] > (size_t) (end - p))
        {
            oe_fail("ENQ string outside its payload", off);
        }

        oe_touch(e.str[i], e.len[i]);
        p += e.len[i];
    }

    if (e.body != p || e.body_len != (size_t) (end - p)) {
        oe_fail("ENQ body does not end its payload", off);
    }

    oe_touch(e.body, e.body_len);

    /* nothing is lost or invented: the same record comes out again */
    size = ngx_http_order_edit_jrec_enq_size(&e);
    if (size != rec->size) {
        oe_fail("ENQ size differs when encoded again", off);
    }

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    if (ngx_http_order_edit_jrec_enq_encode_gen(copy, &e, gen) != size
        || memcmp(copy, data + off, OE_HDR + rec->len) != 0)
    {
        oe_fail("ENQ bytes differ when encoded again", off);
    }

    free(copy);
}


static void
oe_check_seg(const unsigned char *data, size_t off,
    const ngx_http_order_edit_jrec_t *rec)
{
    size_t                           size;
    unsigned char                   *copy;
    ngx_http_order_edit_jrec_t       again;
    ngx_http_order_edit_jrec_seg_t   s, t;

    (void) data;

    if (ngx_http_order_edit_jrec_seg_parse(rec, &s)
        != NGX_HTTP_ORDER_EDIT_JREC_OK)
    {
        return;
    }

    if (s.zone != rec->payload + OE_SEG_FIXED
        || OE_SEG_FIXED + s.zone_len != rec->len)
    {
        oe_fail("SEG zone outside its payload", off);
    }

    oe_touch(s.zone, s.zone_len);

    /*
     * Fields, not bytes: the SEG payload's reserved u16 is not checked
     * by seg_parse, so a nonzero one comes out as 0.
     */
    size = ngx_http_order_edit_jrec_seg_size(&s);
    if (size != rec->size) {
        oe_fail("SEG size differs when encoded again", off);
    }

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    if (ngx_http_order_edit_jrec_seg_encode(copy, &s) != size
        || ngx_http_order_edit_jrec_decode(copy, size, &again)
           != NGX_HTTP_ORDER_EDIT_JREC_OK
        || ngx_http_order_edit_jrec_seg_parse(&again, &t)
           != NGX_HTTP_ORDER_EDIT_JREC_OK
        || t.gen != s.gen || t.seq != s.seq || t.created_ms != s.created_ms
        || t.pid != s.pid || t.zone_len != s.zone_len
        || memcmp(t.zone, s.zone, s.zone_len) != 0)
    {
        oe_fail("SEG fields differ when encoded again", off);
    }

    free(copy);
}


static void
oe_check_record(const unsigned char *data, size_t size, size_t off,
    const ngx_http_order_edit_jrec_t *rec, uint32_t gen)
{
    ngx_http_order_edit_jrec_seg_t  s;
    ngx_http_order_edit_jrec_enq_t  e;

    if (rec->size % 8 != 0 || rec->size < OE_HDR
        || rec->size > size - off
        || rec->payload != data + off + OE_HDR
        || rec->len > rec->size - OE_HDR
        || rec->size - OE_HDR - rec->len >= 8
        || rec->type != data[off + 4])
    {
        oe_fail("OK record out of shape", off);
    }

    switch (rec->type) {

    case NGX_HTTP_ORDER_EDIT_JREC_ENQ:
        if (ngx_http_order_edit_jrec_seg_parse(rec, &s)
            != NGX_HTTP_ORDER_EDIT_JREC_BAD)
        {
            oe_fail("ENQ parsed as SEG", off);
        }

        oe_check_enq(data, off, rec, gen);
        break;

    case NGX_HTTP_ORDER_EDIT_JREC_SEG:
        if (ngx_http_order_edit_jrec_enq_parse(rec, &e)
            != NGX_HTTP_ORDER_EDIT_JREC_BAD)
        {
            oe_fail("SEG parsed as ENQ", off);
        }

        oe_check_seg(data, off, rec);
        break;

    default:
        oe_fail("OK record of unknown type", off);
    }
}


static void
oe_walk(const unsigned char *data, size_t size, uint32_t gen)
{
    size_t                         off, next, len;
    ngx_http_order_edit_jrec_t     rec;
    ngx_http_order_edit_jrec_rc_e  rc;

    off = 0;

    while (off < size) {
        if (off % 8 != 0) {
            oe_fail("unaligned offset", off);
        }

        /* as replay reads: the first record alone, the rest in gen */
        rc = ngx_http_order_edit_jrec_decode_gen(data + off, size - off,
                                                 off ? gen : 0, &rec);

        if (rc == NGX_HTTP_ORDER_EDIT_JREC_OK) {
            oe_check_record(data, size, off, &rec, off ? gen : 0);
            off += rec.size;
            continue;
        }

        if (rc == NGX_HTTP_ORDER_EDIT_JREC_SHORT
            && size - off >= OE_HDR)
        {
            len = (size_t) data[off + 8] | (size_t) data[off + 9] << 8
                  | (size_t) data[off + 10] << 16
                  | (size_t) data[off + 11] << 24;

            if (OE_HDR + ((len + 7) & ~(size_t) 7) <= size - off) {
                oe_fail("SHORT with the whole record there", off);
            }
        }

        next = ngx_http_order_edit_jrec_resync_gen(data, size, off, gen);

        if (next <= off || next > size) {
            oe_fail("resync does not move forward", off);
        }

        if (next == size) {
            /* a torn tail: replay truncates the file here */
            break;
        }

        if (next % 8 != 0
            || ngx_http_order_edit_jrec_decode_gen(data + next, size - next,
                                                   gen, &rec)
               != NGX_HTTP_ORDER_EDIT_JREC_OK)
        {
            oe_fail("resync to something that is not a record", next);
        }

        off = next;
    }
}


/*
 * The generation a format 2 segment's records carry: its SEG record's,
 * or (most inputs have none) one taken from the first bytes, never 0.
 */

static uint32_t
oe_gen(const unsigned char *data, size_t size)
{
    uint32_t                        gen;
    ngx_http_order_edit_jrec_t      rec;
    ngx_http_order_edit_jrec_seg_t  s;

    if (ngx_http_order_edit_jrec_decode(data, size, &rec)
        == NGX_HTTP_ORDER_EDIT_JREC_OK
        && ngx_http_order_edit_jrec_seg_parse(&rec, &s)
           == NGX_HTTP_ORDER_EDIT_JREC_OK
        && s.version == 2)
    {
        return ngx_http_order_edit_jrec_seg_gen(&s);
    }

    gen = 0;

    if (size >= 20) {
        gen = (uint32_t) data[16] | (uint32_t) data[17] << 8
              | (uint32_t) data[18] << 16 | (uint32_t) data[19] << 24;
    }

    return gen ? gen : 1;
}


static void
oe_ack(const unsigned char *data, size_t i)
{
    unsigned        kind, k2;
    uint32_t        off, o2;
    unsigned char   buf[NGX_HTTP_ORDER_EDIT_JACK_SIZE];

    if (ngx_http_order_edit_jack_decode(data + i, &kind, &off)
        != NGX_HTTP_ORDER_EDIT_JREC_OK)
    {
        return;
    }

    if (kind < NGX_HTTP_ORDER_EDIT_JACK_DELIVERED
        || kind > NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK)
    {
        oe_fail("ack of unknown kind", i);
    }

    /* the reserved bytes are only covered by the crc: not compared */
    ngx_http_order_edit_jack_encode(buf, kind, off);

    if (ngx_http_order_edit_jack_decode(buf, &k2, &o2)
        != NGX_HTTP_ORDER_EDIT_JREC_OK
        || k2 != kind || o2 != off
        || memcmp(buf, data + i, 4) != 0
        || buf[8] != data[i + 8]
        || memcmp(buf + 12, data + i + 12, 4) != 0)
    {
        oe_fail("ack differs when encoded again", i);
    }
}


/* every 16 bytes as an ack, as they are and with their crc made valid */

static void
oe_acks(const unsigned char *data, size_t size)
{
    size_t          i;
    uint32_t        crc;
    unsigned char   buf[NGX_HTTP_ORDER_EDIT_JACK_SIZE];

    for (i = 0; i + NGX_HTTP_ORDER_EDIT_JACK_SIZE <= size;
         i += NGX_HTTP_ORDER_EDIT_JACK_SIZE)
    {
        oe_ack(data, i);

        memcpy(buf, data + i, sizeof(buf));
        crc = ngx_http_order_edit_crc32c(0, buf + 8, 8);
        buf[4] = (unsigned char) crc;
        buf[5] = (unsigned char) (crc >> 8);
        buf[6] = (unsigned char) (crc >> 16);
        buf[7] = (unsigned char) (crc >> 24);

        oe_ack(buf, 0);
    }
}


/*
 * The input again with the crc of every record header fixed: the fuzzer
 * rarely guesses a CRC32C, so without this the parsers would only ever
 * see payloads it got from the seeds.
 */

static void
oe_walk_resealed(const uint8_t *data, size_t size)
{
    size_t          off, len, end;
    uint32_t        crc;
    unsigned char  *p;

    p = malloc(size ? size : 1);
    if (p == NULL) {
        abort();
    }

    if (size) {
        memcpy(p, data, size);
    }

    off = 0;

    while (off + OE_HDR <= size) {
        len = (size_t) p[off + 8] | (size_t) p[off + 9] << 8
              | (size_t) p[off + 10] << 16 | (size_t) p[off + 11] << 24;
        end = OE_HDR + ((len + 7) & ~(size_t) 7);

        if (memcmp(p + off, "OEJ1", 4) != 0
            || len > NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN
            || end > size - off)
        {
            off += 8;
            continue;
        }

        crc = ngx_http_order_edit_crc32c(0, p + off, 12);
        crc = ngx_http_order_edit_crc32c(crc, p + off + OE_HDR, len);

        p[off + 12] = (unsigned char) crc;
        p[off + 13] = (unsigned char) (crc >> 8);
        p[off + 14] = (unsigned char) (crc >> 16);
        p[off + 15] = (unsigned char) (crc >> 24);

        off += end;
    }

    oe_walk(p, size, 0);

    free(p);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oe_walk(data, size, 0);
    oe_walk(data, size, oe_gen(data, size));
    oe_walk_resealed(data, size);
    oe_acks(data, size);

    return 0;
}
