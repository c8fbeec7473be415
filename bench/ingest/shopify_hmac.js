// Shopify webhook verification in njs: what a team might write without
// ngx_order_edit_module.  Configuration (c) of bench/ingest.
//
//   js_import shopify from /path/shopify_hmac.js;
//   map $http_x_shopify_shop_domain $shopify_secret { acme.myshopify.com "..."; }
//   location = /webhooks/shopify {
//       client_body_buffer_size 64k;   # njs only sees bodies kept in memory
//       js_content shopify.verify;
//   }
//
// It reads the body (njs does that before js_content runs), computes
// base64(HMAC-SHA256(body, secret)) and compares it with
// X-Shopify-Hmac-Sha256.  It does not rate-limit, de-duplicate or queue:
// the module does all of that on top, so this is a generous comparison.

const crypto = require('crypto');

function reply(r, status, obj) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify(obj) + '\n');
}

function verify(r) {
    if (r.method !== 'POST') {
        return reply(r, 405, {error: 'method_not_allowed'});
    }

    const secret = r.variables.shopify_secret;
    const given = r.headersIn['X-Shopify-Hmac-Sha256'];
    const body = r.requestBuffer;

    if (body === undefined) {
        // spilled to a temp file: njs cannot see it
        return reply(r, 413, {error: 'body_too_large'});
    }

    if (!secret || !given) {
        return reply(r, 401, {error: 'unauthorized'});
    }

    const want = crypto.createHmac('sha256', secret).update(body)
                       .digest('base64');

    // njs 0.7 has no timingSafeEqual; a plain comparison is what most
    // hand-written handlers do.
    if (want !== given) {
        return reply(r, 401, {error: 'unauthorized'});
    }

    reply(r, 200, {status: 'ok'});
}

export default {verify};
