
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * Writes the journal fuzzer's seed corpus with the codec itself, so the
 * seeds follow the format whatever it becomes:
 *
 *   jrec-seeds DIR
 *
 *   seg-basic     a SEG and three ENQ records
 *   seg-torn      the same, its last record cut short
 *   seg-corrupt   the same, a byte of the second ENQ's body flipped
 *   ack-basic     three acknowledgements
 *   seg-recycled  format 2: a SEG and the three ENQ records in its
 *                 generation, the empty header that ends them, and a
 *                 record of the file's last use
 *
 * t/unit/jrec-perl.t builds seg-basic and ack-basic again in Perl and
 * expects the same bytes: keep the two in step.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_order_edit_jrec.h"


#define OE_NENQ  3


static const char  *oe_topics[OE_NENQ] = {
    "orders/updated", "orders/edited", "refunds/create"
};

static const char  *oe_bodies[OE_NENQ] = {
    "{\"id\":820982911946154501}",
    "{\"id\":820982911946154502,\"note\":\"OEJ1\"}",
    "{\"id\":820982911946154503,\"refunds\":[]}"
};


static int
oe_write(const char *dir, const char *name, const unsigned char *p,
    size_t len)
{
    char   path[4096];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    if (fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return -1;
    }

    return 0;
}


static void
oe_set(ngx_http_order_edit_jrec_enq_t *e, int i, const char *s)
{
    e->str[i] = (const unsigned char *) s;
    e->len[i] = strlen(s);
}


int
main(int argc, char **argv)
{
    int                             i;
    char                            wh[OE_NENQ][16], ev[OE_NENQ][16];
    char                            at[OE_NENQ][32];
    size_t                          len, off[OE_NENQ + 1];
    uint32_t                        gen, old;
    unsigned char                   buf[4096], acks[3 * 16];
    ngx_http_order_edit_jrec_seg_t  s;
    ngx_http_order_edit_jrec_enq_t  e, es[OE_NENQ];
    ngx_http_order_edit_jrec_t      rec;

    if (argc != 2) {
        fprintf(stderr, "usage: jrec-seeds DIR\n");
        return 1;
    }

    s.gen = 0x0123456789abcdefull;
    s.seq = 1;
    s.created_ms = 1764151200000ull;
    s.pid = 4242;
    s.zone = (const unsigned char *) "edits";
    s.zone_len = 5;
    /* format 1, as t/lib/OrderEditJournal.pm writes it: still read */
    s.version = 1;

    off[0] = 0;
    len = ngx_http_order_edit_jrec_seg_encode(buf, &s);

    for (i = 0; i < OE_NENQ; i++) {
        snprintf(wh[i], sizeof(wh[i]), "wh-%04d", i + 1);
        snprintf(ev[i], sizeof(ev[i]), "ev-%04d", i + 1);
        snprintf(at[i], sizeof(at[i]), "2025-11-26T10:00:0%dZ", i + 1);

        memset(&e, 0, sizeof(e));
        e.id = i + 1;
        e.received_ms = 1764151200000ull + i + 1;
        e.order_id = 820982911946154500ull + i + 1;
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_SHOP, "acme.myshopify.com");
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_TOPIC, oe_topics[i]);
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID, wh[i]);
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID, ev[i]);
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_API, "2024-10");
        oe_set(&e, NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED, at[i]);
        e.body = (const unsigned char *) oe_bodies[i];
        e.body_len = strlen(oe_bodies[i]);

        off[i + 1] = len;
        len += ngx_http_order_edit_jrec_enq_encode(buf + len, &e);
        es[i] = e;
    }

    ngx_http_order_edit_jack_encode(acks, NGX_HTTP_ORDER_EDIT_JACK_DELIVERED,
                                    (uint32_t) off[1]);
    ngx_http_order_edit_jack_encode(acks + 16,
                                    NGX_HTTP_ORDER_EDIT_JACK_DROPPED,
                                    (uint32_t) off[3]);
    ngx_http_order_edit_jack_encode(acks + 32,
                                    NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK,
                                    (uint32_t) off[2]);

    if (oe_write(argv[1], "seg-basic", buf, len) != 0
        || oe_write(argv[1], "seg-torn", buf, len - 13) != 0
        || oe_write(argv[1], "ack-basic", acks, sizeof(acks)) != 0)
    {
        return 1;
    }

    /* a byte of the second ENQ's body, 3 bytes before its end */
    if (ngx_http_order_edit_jrec_decode(buf + off[2], len - off[2], &rec)
        != NGX_HTTP_ORDER_EDIT_JREC_OK)
    {
        fprintf(stderr, "jrec-seeds: the codec cannot read its own record\n");
        return 1;
    }

    buf[off[2] + NGX_HTTP_ORDER_EDIT_JREC_HDR + rec.len - 3] ^= 0x20;

    if (oe_write(argv[1], "seg-corrupt", buf, len) != 0) {
        return 1;
    }

    /* the file again, recycled: seq 2 over what seq 1 left */
    s.version = 2;
    old = ngx_http_order_edit_jrec_seg_gen(&s);
    s.seq = 2;
    gen = ngx_http_order_edit_jrec_seg_gen(&s);

    len = ngx_http_order_edit_jrec_seg_encode(buf, &s);

    for (i = 0; i < OE_NENQ; i++) {
        len += ngx_http_order_edit_jrec_enq_encode_gen(buf + len, &es[i],
                                                       gen);
    }

    memset(buf + len, 0, NGX_HTTP_ORDER_EDIT_JREC_HDR);
    len += NGX_HTTP_ORDER_EDIT_JREC_HDR;
    len += ngx_http_order_edit_jrec_enq_encode_gen(buf + len, &es[0], old);

    if (oe_write(argv[1], "seg-recycled", buf, len) != 0) {
        return 1;
    }

    return 0;
}
