
/*
 * Copyright (C) the ngx_order_edit_module authors.
 */


#include <string.h>

#include "ngx_http_order_edit_jbuild.h"


json_t *
ngx_http_order_edit_jbuild_set(int *nomem, json_t *obj, const char *key,
    json_t *v)
{
    if (key == NULL) {
        /* a NetSuite field switched off with "off" */
        json_decref(v);
        return NULL;
    }

    if (v == NULL || obj == NULL) {
        json_decref(v);
        *nomem = 1;
        return NULL;
    }

    /* json_object_set_new() releases v when it fails */
    if (json_object_set_new(obj, key, v) != 0) {
        *nomem = 1;
        return NULL;
    }

    return v;
}



json_t *
ngx_http_order_edit_jbuild_append(int *nomem, json_t *arr, json_t *v)
{
    if (v == NULL || arr == NULL) {
        json_decref(v);
        *nomem = 1;
        return NULL;
    }

    if (json_array_append_new(arr, v) != 0) {
        *nomem = 1;
        return NULL;
    }

    return v;
}



json_t *
ngx_http_order_edit_jbuild_ref(const char *item)
{
    if (strncmp(item, "eid:", 4) == 0) {
        return json_pack("{ss}", "externalId", item + 4);
    }

    return json_pack("{ss}", "id", item);
}
