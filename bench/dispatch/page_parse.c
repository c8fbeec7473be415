
/*
 * What one Admin API page costs the event loop to parse: the module's
 * exact-number JSON loader (reconcile.c and report.c parse each page of
 * orders.json with it, whole, in the dispatching worker), timed in CPU
 * time over N parses and frees.  Not built by make:
 *
 *   python3 bench/dispatch/page_parse.py 50 250 500   # writes /tmp pages
 *   cc -O2 -Ingx_order_edit_module bench/dispatch/page_parse.c \
 *       ngx_order_edit_module/ngx_http_order_edit_exactjson.c -ljansson \
 *       -o /tmp/page_parse
 *   /tmp/page_parse /tmp/page-250.json 10
 */


#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ngx_http_order_edit_exactjson.h"


int
main(int argc, char **argv)
{
    int                            i, reps;
    long                           n;
    char                          *b, err[160];
    FILE                          *f;
    json_t                        *root;
    struct timespec                t0, t1;
    ngx_http_order_edit_json_rc_e  rc;

    if (argc != 3 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: page_parse FILE REPEATS\n");
        return 2;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);

    b = malloc(n);
    if (b == NULL || fread(b, 1, n, f) != (size_t) n) {
        return 2;
    }

    fclose(f);
    reps = atoi(argv[2]);

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);

    for (i = 0; i < reps; i++) {
        root = ngx_http_order_edit_json_load(b, n, 64, n, &rc, err,
                                             sizeof(err));
        if (root == NULL) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }

        json_decref(root);
    }

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);

    printf("%ld bytes: %.2f ms of CPU per parse and free\n", n,
           ((t1.tv_sec - t0.tv_sec) * 1e3
            + (t1.tv_nsec - t0.tv_nsec) / 1e6) / reps);

    free(b);

    return 0;
}
