
/*
 * Copyright (C) the ngx_order_edit_module authors.
 *
 * The codec compiled a second time with its x86 CRC32C instructions
 * switched off, so that the portable slicing-by-8 path, which a machine
 * with SSE4.2 never takes, is tested against the hardware one on the
 * same machine.  Its public names get an "oe_table_" prefix so that both
 * copies link into one test.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>


/* the codec takes its hardware path only on x86-64 */
#undef __x86_64__

#define ngx_http_order_edit_crc32c          oe_table_crc32c
#define ngx_http_order_edit_jrec_enq_size   oe_table_enq_size
#define ngx_http_order_edit_jrec_seg_size   oe_table_seg_size
#define ngx_http_order_edit_jrec_enq_encode oe_table_enq_encode
#define ngx_http_order_edit_jrec_enq_head   oe_table_enq_head
#define ngx_http_order_edit_jrec_seg_encode oe_table_seg_encode
#define ngx_http_order_edit_jrec_decode     oe_table_decode
#define ngx_http_order_edit_jrec_enq_parse  oe_table_enq_parse
#define ngx_http_order_edit_jrec_seg_parse  oe_table_seg_parse
#define ngx_http_order_edit_jrec_resync     oe_table_resync
#define ngx_http_order_edit_jrec_resync_gen oe_table_resync_gen
#define ngx_http_order_edit_jrec_decode_gen oe_table_decode_gen
#define ngx_http_order_edit_jrec_seg_gen    oe_table_seg_gen
#define ngx_http_order_edit_jrec_enq_head_gen   oe_table_enq_head_gen
#define ngx_http_order_edit_jrec_enq_encode_gen oe_table_enq_encode_gen
#define ngx_http_order_edit_jack_encode     oe_table_jack_encode
#define ngx_http_order_edit_jack_decode     oe_table_jack_decode

#include "ngx_http_order_edit_jrec.c"


int oe_table_crc32c_used(void);


/* 1 once the tables were built: proof the portable path ran */

int
oe_table_crc32c_used(void)
{
    return ngx_http_order_edit_crc32c_ready;
}
