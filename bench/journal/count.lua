-- wrk script for bench/journal: bench/ingest/post.lua (the same signed
-- ~16 KB orders/updated, a unique X-Shopify-Webhook-Id per request),
-- plus a response() that counts what every answer was, so the bench can
-- say "every response was 200 queued" rather than "no status >= 400"
-- (wrk's own non-2xx count only sees status > 399).
--
--   wrk ... -s count.lua URL -- BODY_FILE HMAC SHOP TOPIC NONCE
--
-- Prints post.lua's BENCH_RESULT line, then
--   BENCH_STATUS {"responses":N,"ok200":N,"queued":N,"other":N,
--                 "other_status":S}
-- where ok200 counts status 200, queued the 200s whose body says
-- "queued", other every other status (other_status: the last one seen).

local src = debug.getinfo(1, "S").source
local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
dofile(dir .. "/../ingest/post.lua")

local post_setup, post_done = setup, done
local threads = {}

-- globals: thread:get() reads a thread's globals in done()
ok200, queued, other, other_status = 0, 0, 0, 0

function setup(thread)
    threads[#threads + 1] = thread
    post_setup(thread)
end

function response(status, headers, body)
    if status == 200 then
        ok200 = ok200 + 1
        if body and body:find('"queued"', 1, true) then
            queued = queued + 1
        end
    else
        other = other + 1
        other_status = status
    end
end

function done(summary, latency, requests)
    post_done(summary, latency, requests)
    local a, q, o, s = 0, 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + (t:get("ok200") or 0)
        q = q + (t:get("queued") or 0)
        o = o + (t:get("other") or 0)
        local ts = t:get("other_status") or 0
        if ts ~= 0 then s = ts end
    end
    io.write(string.format(
        'BENCH_STATUS {"responses":%d,"ok200":%d,"queued":%d,"other":%d,'
        .. '"other_status":%d}\n', summary.requests, a, q, o, s))
end
