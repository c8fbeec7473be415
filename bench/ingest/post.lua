-- wrk script: POST one signed Shopify webhook body with a unique
-- X-Shopify-Webhook-Id per request.
--
--   wrk ... -s post.lua URL -- BODY_FILE HMAC SHOP TOPIC NONCE
--
-- The HMAC covers only the body, so one signature (computed once by the
-- caller) is valid for every request; only the webhook id changes.  The
-- request is pre-split around the id so request() is one concatenation.

local prefix, suffix
local counter = 0
local nonce = "0"

-- setup() runs in its own environment and hands each thread a number
-- through the global "tid" (thread:set only reaches globals).
tid = 0
local thread_ids = 0

function setup(thread)
    thread_ids = thread_ids + 1
    thread:set("tid", thread_ids)
end

function init(args)
    local path, hmac, shop, topic = args[1], args[2], args[3], args[4]
    nonce = args[5] or "0"
    local f = assert(io.open(path, "rb"))
    local body = f:read("*a")
    f:close()

    -- Header order follows Shopify; Host comes from wrk's URL.
    prefix = "POST " .. wrk.path .. " HTTP/1.1\r\n"
        .. "Host: " .. wrk.host .. ":" .. (wrk.port or "80") .. "\r\n"
        .. "Content-Type: application/json\r\n"
        .. "X-Shopify-Hmac-Sha256: " .. hmac .. "\r\n"
        .. "X-Shopify-Shop-Domain: " .. shop .. "\r\n"
        .. "X-Shopify-Topic: " .. topic .. "\r\n"
        .. "X-Shopify-API-Version: 2024-07\r\n"
        .. "X-Shopify-Triggered-At: 2024-05-14T14:42:17.123456789Z\r\n"
        .. "X-Shopify-Webhook-Id: "
    suffix = "\r\n"
        .. "Content-Length: " .. #body .. "\r\n"
        .. "\r\n" .. body
end

function request()
    counter = counter + 1
    -- uuid-shaped: nonce (per run), thread, counter
    return prefix
        .. string.format("%08x-%04x-4000-8000-%012x", tonumber(nonce) or 0,
                         tid, counter)
        .. suffix
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
        .. '"rps":%.1f,"lat_mean_us":%.1f,"lat_p50_us":%d,'
        .. '"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,'
        .. '"err_connect":%d,"err_read":%d,"err_write":%d,'
        .. '"err_status":%d,"err_timeout":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        summary.requests / (summary.duration / 1e6), latency.mean,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
