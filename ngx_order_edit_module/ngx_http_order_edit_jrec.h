
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The journal's on-disk records.  Pure C (no nginx headers): compiled
 * into the module, the unit tests and the fuzzer.
 *
 * A segment file is a sequence of records, each 8-byte aligned:
 *
 *     0  magic   u32 LE  "OEJ2" ("OEJ1": format 1, read, never written)
 *     4  type    u8      SEG (the first record of a file) or ENQ
 *     5  flags   u8      0
 *     6  gen     u16 LE  ENQ: the low 16 bits of the segment's generation
 *                        (format 1 and SEG: 0)
 *     8  len     u32 LE  payload bytes, padding not counted
 *    12  crc     u32 LE  CRC32C of bytes 0..11, then of the payload; an
 *                        ENQ's starts from the segment's generation, not 0
 *    16  payload, then zero padding to a multiple of 8
 *
 * A segment file is recycled: written again from the start under a new
 * SEG record, over the records of its last use.  The generation is a
 * CRC32C of the SEG record's gen and seq, different for every use of a
 * file; a record that does not carry the segment's (an older use's, a
 * format 1 record, never-written zeros) is STALE: the segment ends there.
 * The 16 bits in the header tell stale from corrupt without the crc; the
 * crc seeded with all 32 makes sure an older use that shares them fails.
 *
 * ENQ payload: id, received_ms, order_id (u64 LE each), the lengths of
 * shop, topic, webhook id, event id, API version and triggered-at (u16
 * LE each), the body length (u32 LE), then those strings and the body.
 * SEG payload: gen, seq, created_ms (u64 LE), writer pid (u32 LE), zone
 * name length (u16 LE), 0 (u16), then the zone name.
 *
 * Acknowledgements live beside their segment, in "<segment>.ack", as
 * fixed 16-byte records naming the offset of the record they settle:
 *
 *     0  magic   u32 LE  "OEJA"
 *     4  crc     u32 LE  CRC32C of bytes 8..15
 *     8  kind    u8      delivered, resolved, dropped, rolled back
 *     9  rsv     3 bytes 0
 *    12  offset  u32 LE
 */


#ifndef _NGX_HTTP_ORDER_EDIT_JREC_H_INCLUDED_
#define _NGX_HTTP_ORDER_EDIT_JREC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_HTTP_ORDER_EDIT_JREC_MAGIC      0x314a454fu    /* "OEJ1" */
#define NGX_HTTP_ORDER_EDIT_JREC_MAGIC2     0x324a454fu    /* "OEJ2" */
#define NGX_HTTP_ORDER_EDIT_JACK_MAGIC      0x414a454fu    /* "OEJA" */

#define NGX_HTTP_ORDER_EDIT_JREC_HDR        16
#define NGX_HTTP_ORDER_EDIT_JACK_SIZE       16

/* a webhook body is capped by max_body long before this */
#define NGX_HTTP_ORDER_EDIT_JREC_MAX_LEN    (64 * 1024 * 1024)

#define NGX_HTTP_ORDER_EDIT_JREC_SEG        1
#define NGX_HTTP_ORDER_EDIT_JREC_ENQ        2

#define NGX_HTTP_ORDER_EDIT_JACK_DELIVERED  1
#define NGX_HTTP_ORDER_EDIT_JACK_RESOLVED   2
#define NGX_HTTP_ORDER_EDIT_JACK_DROPPED    3
#define NGX_HTTP_ORDER_EDIT_JACK_ROLLBACK   4

/* the strings of an ENQ record, in their order on disk */
#define NGX_HTTP_ORDER_EDIT_JREC_SHOP       0
#define NGX_HTTP_ORDER_EDIT_JREC_TOPIC      1
#define NGX_HTTP_ORDER_EDIT_JREC_WEBHOOK_ID 2
#define NGX_HTTP_ORDER_EDIT_JREC_EVENT_ID   3
#define NGX_HTTP_ORDER_EDIT_JREC_API        4
#define NGX_HTTP_ORDER_EDIT_JREC_TRIGGERED  5
#define NGX_HTTP_ORDER_EDIT_JREC_NSTR       6


typedef enum {
    NGX_HTTP_ORDER_EDIT_JREC_OK = 0,
    NGX_HTTP_ORDER_EDIT_JREC_SHORT,         /* ends before the record */
    NGX_HTTP_ORDER_EDIT_JREC_BAD,           /* magic, length or crc */
    NGX_HTTP_ORDER_EDIT_JREC_STALE          /* not this use of the file */
} ngx_http_order_edit_jrec_rc_e;


/* an accepted webhook, as journaled before its 200 */
typedef struct {
    uint64_t                 id;
    uint64_t                 received_ms;
    uint64_t                 order_id;
    const unsigned char     *str[NGX_HTTP_ORDER_EDIT_JREC_NSTR];
    size_t                   len[NGX_HTTP_ORDER_EDIT_JREC_NSTR];
    const unsigned char     *body;
    size_t                   body_len;
} ngx_http_order_edit_jrec_enq_t;


/* who wrote a segment: checked before a single record is replayed */
typedef struct {
    uint64_t                 gen;
    uint64_t                 seq;
    uint64_t                 created_ms;
    uint32_t                 pid;
    const unsigned char     *zone;
    size_t                   zone_len;
    unsigned                 version;       /* 1; 0 or 2: format 2 */
} ngx_http_order_edit_jrec_seg_t;


/* one record found in a buffer */
typedef struct {
    unsigned                 type;
    unsigned                 version;       /* 1 or 2, from the magic */
    const unsigned char     *payload;
    size_t                   len;
    size_t                   size;          /* header, payload, padding */
} ngx_http_order_edit_jrec_t;


uint32_t ngx_http_order_edit_crc32c(uint32_t crc, const void *data,
    size_t len);

/* bytes on disk, 0 if a field is too long for the format */
size_t ngx_http_order_edit_jrec_enq_size(
    const ngx_http_order_edit_jrec_enq_t *e);
size_t ngx_http_order_edit_jrec_seg_size(
    const ngx_http_order_edit_jrec_seg_t *s);

/*
 * What the records of a segment carry: never 0 for format 2, 0 for a
 * format 1 segment.  The functions below that take "gen" write or read
 * format 1 records when it is 0; those without read format 1 (and a
 * format 2 SEG record) and write format 1.
 */
uint32_t ngx_http_order_edit_jrec_seg_gen(
    const ngx_http_order_edit_jrec_seg_t *s);

/*
 * The head of an ENQ record (header and fixed part, HEAD bytes) with the
 * crc of the whole record, for a writer that sends the strings and the
 * body from where they are (writev) followed by pad() zero bytes.
 * Returns the record's size, 0 if a field is too long.
 */
#define NGX_HTTP_ORDER_EDIT_JREC_ENQ_HEAD   (16 + 40)

size_t ngx_http_order_edit_jrec_enq_head(unsigned char *head,
    const ngx_http_order_edit_jrec_enq_t *e, size_t *pad);
size_t ngx_http_order_edit_jrec_enq_head_gen(unsigned char *head,
    const ngx_http_order_edit_jrec_enq_t *e, uint32_t gen, size_t *pad);

/* write a record at buf, which has room for its size; returns the size */
size_t ngx_http_order_edit_jrec_enq_encode(unsigned char *buf,
    const ngx_http_order_edit_jrec_enq_t *e);
size_t ngx_http_order_edit_jrec_enq_encode_gen(unsigned char *buf,
    const ngx_http_order_edit_jrec_enq_t *e, uint32_t gen);
size_t ngx_http_order_edit_jrec_seg_encode(unsigned char *buf,
    const ngx_http_order_edit_jrec_seg_t *s);

/*
 * The record at buf, given avail bytes: SHORT when they end inside it,
 * BAD when its header or checksum is wrong.  A damaged length field can
 * give either, so a reader resyncs on both: only when no valid record
 * follows is it a torn tail.
 */
ngx_http_order_edit_jrec_rc_e ngx_http_order_edit_jrec_decode(
    const unsigned char *buf, size_t avail, ngx_http_order_edit_jrec_t *rec);

/*
 * The same in a segment whose generation is gen (after its SEG record):
 * STALE for a record of another use of the file, a format 1 record in a
 * format 2 segment, or 16 zero bytes.  A reader stops at the first STALE
 * after which resync_gen() finds nothing: there this use of the file
 * ended.
 */
ngx_http_order_edit_jrec_rc_e ngx_http_order_edit_jrec_decode_gen(
    const unsigned char *buf, size_t avail, uint32_t gen,
    ngx_http_order_edit_jrec_t *rec);

/* the payload of a record that decoded as ENQ or SEG; BAD if malformed */
ngx_http_order_edit_jrec_rc_e ngx_http_order_edit_jrec_enq_parse(
    const ngx_http_order_edit_jrec_t *rec,
    ngx_http_order_edit_jrec_enq_t *e);
ngx_http_order_edit_jrec_rc_e ngx_http_order_edit_jrec_seg_parse(
    const ngx_http_order_edit_jrec_t *rec,
    ngx_http_order_edit_jrec_seg_t *s);

/*
 * After a BAD record at "from": the next 8-byte aligned offset past it
 * where a whole, valid record starts, or avail when there is none (then
 * everything from "from" on is a torn tail).
 */
size_t ngx_http_order_edit_jrec_resync(const unsigned char *buf,
    size_t avail, size_t from);
size_t ngx_http_order_edit_jrec_resync_gen(const unsigned char *buf,
    size_t avail, size_t from, uint32_t gen);

void ngx_http_order_edit_jack_encode(unsigned char *buf, unsigned kind,
    uint32_t offset);
ngx_http_order_edit_jrec_rc_e ngx_http_order_edit_jack_decode(
    const unsigned char *buf, unsigned *kind, uint32_t *offset);


#endif /* _NGX_HTTP_ORDER_EDIT_JREC_H_INCLUDED_ */
