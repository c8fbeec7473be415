-- wrk script: drain the queue through order_edit_queue_debug, as fast as
-- the worker answers: every lease's answer queues its ack, every request
-- sends a pending ack if there is one, else a new lease.
--
--   wrk -t1 ... -s drain.lua http://HOST:PORT/q -- LEASE_MS
--
-- Any connection may send any ack (a lease token is not tied to its
-- connection).  Acks still pending when wrk stops leave their webhooks
-- leased; the caller waits LEASE_MS, reclaims them and acks the rest.
-- Prints DRAIN_RESULT {...} at the end.

local acks = {}
local lease_ms = "1000"
local threads = {}

-- globals: done() runs in another Lua state and reads them by thread:get()
leased, acked, empty, bad, pending = 0, 0, 0, 0, 0

function setup(thread)
    threads[#threads + 1] = thread
end

function init(args)
    lease_ms = args[1] or lease_ms
end

function request()
    local a = table.remove(acks)
    if a then
        pending = pending - 1
        return wrk.format("GET", a)
    end
    return wrk.format("GET", wrk.path .. "?op=lease&ms=" .. lease_ms)
end

function response(status, headers, body)
    if status ~= 200 then
        bad = bad + 1
        return
    end
    local id, token, shop =
        body:match('"id":(%d+),"token":(%d+),"shop":"([^"]+)"')
    if id then
        leased = leased + 1
        pending = pending + 1
        acks[#acks + 1] = wrk.path .. "?op=ack&shop=" .. shop .. "&id=" .. id
            .. "&token=" .. token
    elseif body:find('"item":null', 1, true) then
        empty = empty + 1
    elseif body:find('"ok":true', 1, true) then
        acked = acked + 1
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local n = {leased = 0, acked = 0, empty = 0, bad = 0, pending = 0}
    for _, t in ipairs(threads) do
        for k in pairs(n) do
            n[k] = n[k] + (t:get(k) or 0)
        end
    end
    io.write(string.format(
        'DRAIN_RESULT {"requests":%d,"duration_us":%d,"leased":%d,'
        .. '"acked":%d,"empty":%d,"bad":%d,"pending_acks":%d}\n',
        summary.requests, summary.duration, n.leased, n.acked, n.empty,
        n.bad, n.pending))
end
