#include "common/calls/call_scripts.h"

#include <string>

namespace parley::calls::internal {
namespace {

// Shared helpers, prepended to every script.
//   emit(prefix, call_id, maxlen, fields): the event on the call's stream and the global one.
//   status_event(...): the fields of a status event.
//   finish(...): ends or reschedules an attempt (used by Finish and Reclaim).
constexpr char kPrelude[] = R"lua(
local TERMINAL = {completed=true, busy=true, no_answer=true, declined=true, voicemail=true,
                  failed=true, canceled=true, rejected=true}
local ORDER = {queued=0, scheduled=0, assigned=1, dialing=2, ringing=3, in_progress=4}

local function emit(prefix, call_id, maxlen, fields)
  local id = redis.call('XADD', prefix .. 'call:' .. call_id .. ':events', '*', unpack(fields))
  redis.call('XADD', prefix .. 'events', 'MAXLEN', '~', maxlen, '*', unpack(fields))
  return id
end

local function status_event(call_id, status, attempt, worker, campaign, now, reason)
  return {'type', 'status', 'call_id', call_id, 'status', status, 'attempt', tostring(attempt),
          'worker', worker or '', 'campaign', campaign or '', 'time', tostring(now),
          'ended_reason', reason or ''}
end

local function expire_call(prefix, call_id, ttl)
  redis.call('EXPIRE', prefix .. 'call:' .. call_id, ttl)
  redis.call('EXPIRE', prefix .. 'call:' .. call_id .. ':events', ttl)
end

-- Ends attempt `attempt` with `outcome`, or schedules the next attempt at retry_at (> 0).
local function finish(prefix, key, call_id, attempt, worker, campaign, outcome, reason, now,
                      retry_at, maxlen, ttl, detail)
  if campaign ~= '' then
    redis.call('ZREM', prefix .. 'campaign:' .. campaign .. ':active', call_id)
  end
  -- A cancel requested during the attempt wins over a retry.
  local cancel = redis.call('HMGET', key, 'cancel', 'cancel_reason')
  if cancel[1] == '1' then retry_at = 0 end
  local ev = status_event(call_id, outcome, attempt, worker, campaign, now, reason)
  for i = 1, #detail do ev[#ev + 1] = detail[i] end
  if cancel[1] == '1' and cancel[2] and cancel[2] ~= '' then
    ev[#ev + 1] = 'd.reason'
    ev[#ev + 1] = cancel[2]
  end
  if retry_at > 0 then
    ev[#ev + 1] = 'd.retry_at'
    ev[#ev + 1] = tostring(retry_at)
    emit(prefix, call_id, maxlen, ev)
    local next_attempt = tonumber(attempt) + 1
    redis.call('HSET', key, 'status', 'scheduled', 'attempt', next_attempt, 'owner', '',
               'lease_until', 0, 'due', retry_at, 'ended_reason', reason, 'updated', now)
    redis.call('ZADD', prefix .. 'delayed', retry_at, call_id)
    emit(prefix, call_id, maxlen,
         status_event(call_id, 'scheduled', next_attempt, '', campaign, now, ''))
  else
    redis.call('HSET', key, 'status', outcome, 'ended_reason', reason, 'owner', '',
               'lease_until', 0, 'updated', now, 'ended', now)
    emit(prefix, call_id, maxlen, ev)
    expire_call(prefix, call_id, ttl)
  end
end
)lua";

redis::RedisScript Make(const char* body) {
  return redis::RedisScript(std::string(kPrelude) + body);
}

}  // namespace

// Creates one or more calls, each exactly as if alone, in order (CallStore batches concurrent
// Creates into one run). ARGV: prefix, idem_ttl, maxlen, ttl, dnc_key, then per call: n (the
// number of values that follow for this call), call_id, now, status ('queued' | 'scheduled'),
// due, idem_key ('' = none), attempt, campaign, to, check_dnc ('1' | ''), reject_reason
// ('' = none), max_attempts, from, agent, context, overrides, direction, lead_id. The hash's field
// names are the script's constants, and nothing is sent twice: the fewer ARGV strings, the less
// Redis parses and Lua copies per call. No KEYS: every key derives from the prefix (one Redis
// instance, not a cluster). Returns one reply per call: {'existing', id, HGETALL} | {'exists', id}
// | {'dnc_unknown', id} |
// {'created', id, status} | {'rejected', id, reason, dnc list ('' | global | campaign)}.
// The hottest script: no shared prelude (its tables and closures would be built on every run),
// the hash written straight from ARGV, nothing read back that the caller already knows, and the DNC
// index's completeness asked once per run: Redis spends about as much per command on the script's
// Lua and the AOF as on the command itself. (The ListCalls index writes stay with each call, so a
// run that fails half-way leaves no call unindexed.)
const redis::RedisScript& CreateScript() {
  static const redis::RedisScript* script = new redis::RedisScript(R"lua(
local prefix, idem_ttl, maxlen, ttl, dnc_key = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- Asked at most once per run: nothing in the run changes it.
local dnc_complete = nil
local events_key, jobs_key, delayed_key = prefix .. 'events', prefix .. 'jobs', prefix .. 'delayed'

local function create(i, last)
  local call_id, now, status, due = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local idem, attempt, campaign, to = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local check_dnc, reason = ARGV[i + 8], ARGV[i + 9]
  if idem ~= '' then
    local existing = redis.call('GET', prefix .. 'idem:' .. idem)
    if existing then
      return {'existing', existing, redis.call('HGETALL', prefix .. 'call:' .. existing)}
    end
  end
  local key = prefix .. 'call:' .. call_id
  if redis.call('EXISTS', key) == 1 then return {'exists', call_id} end
  local dnc = ''
  if check_dnc ~= '' then
    -- Only a set config-api built in full can say "not listed".
    if dnc_complete == nil then
      dnc_complete = redis.call('SISMEMBER', dnc_key, '!complete') == 1
    end
    if not dnc_complete then return {'dnc_unknown', call_id} end
    if campaign ~= '' then
      local listed = redis.call('SMISMEMBER', dnc_key, ':' .. to, campaign .. ':' .. to)
      if listed[1] == 1 then
        dnc = 'global'
      elseif listed[2] == 1 then
        dnc = 'campaign'
      end
    elseif redis.call('SISMEMBER', dnc_key, ':' .. to) == 1 then
      dnc = 'global'
    end
    if dnc ~= '' then reason = 'dnc' end
  end
  if reason ~= '' then
    redis.call('HSET', key, 'call_id', call_id, 'attempt', attempt, 'max_attempts', ARGV[i + 10],
               'to', to, 'from', ARGV[i + 11], 'agent', ARGV[i + 12], 'campaign', campaign,
               'context', ARGV[i + 13], 'overrides', ARGV[i + 14], 'direction', ARGV[i + 15],
               'lead_id', ARGV[i + 16], 'idem', idem, 'owner', '', 'lease_until', '0',
               'dialed', '0', 'status', 'rejected', 'created', now, 'updated', now,
               'ended_reason', reason, 'ended', now)
    status = 'rejected'
  else
    redis.call('HSET', key, 'call_id', call_id, 'attempt', attempt, 'max_attempts', ARGV[i + 10],
               'to', to, 'from', ARGV[i + 11], 'agent', ARGV[i + 12], 'campaign', campaign,
               'context', ARGV[i + 13], 'overrides', ARGV[i + 14], 'direction', ARGV[i + 15],
               'lead_id', ARGV[i + 16], 'idem', idem, 'owner', '', 'lease_until', '0',
               'dialed', '0', 'status', status, 'created', now, 'updated', now, 'due', due,
               'ended_reason', '')
  end
  local ev = {'type', 'status', 'call_id', call_id, 'status', status, 'attempt', attempt,
              'worker', '', 'campaign', campaign, 'time', now, 'ended_reason', reason}
  local events = key .. ':events'
  redis.call('XADD', events, '*', unpack(ev))
  redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*', unpack(ev))
  if status == 'queued' then
    redis.call('XADD', jobs_key, '*', 'call_id', call_id, 'attempt', attempt)
  elseif status == 'scheduled' then
    redis.call('ZADD', delayed_key, due, call_id)
  end
  redis.call('ZADD', prefix .. 'calls:created', now, call_id)
  if campaign ~= '' then
    redis.call('ZADD', prefix .. 'campaign:' .. campaign .. ':calls', now, call_id)
  end
  if idem ~= '' then redis.call('SET', prefix .. 'idem:' .. idem, call_id, 'EX', idem_ttl) end
  if status == 'rejected' then
    redis.call('EXPIRE', key, ttl)
    redis.call('EXPIRE', events, ttl)
    return {'rejected', call_id, reason, dnc}
  end
  return {'created', call_id, status}
end

local results = {}
local i = 6
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  results[#results + 1] = create(i + 1, i + n)
  i = i + n + 1
end
return results
)lua");
  return *script;
}

// ARGV: prefix, call_id, attempt, worker, lease_until, now, maxlen
const redis::RedisScript& ClaimScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lease_until, now = tonumber(ARGV[5]), tonumber(ARGV[6])
local h = redis.call('HMGET', KEYS[1], 'attempt', 'status', 'owner', 'lease_until', 'dialed',
                     'campaign', 'cancel')
if not h[1] or h[1] ~= attempt then return 'stale' end
if tonumber(h[5] or '0') >= tonumber(attempt) then return 'stale' end
if h[7] == '1' then return 'stale' end
local status = h[2]
if status == 'assigned' then
  if h[3] ~= worker and tonumber(h[4] or '0') >= now then return 'stale' end
elseif status ~= 'queued' then
  return 'stale'
end
redis.call('HSET', KEYS[1], 'status', 'assigned', 'owner', worker, 'lease_until', lease_until,
           'updated', now)
if status ~= 'assigned' or h[3] ~= worker then
  emit(prefix, call_id, ARGV[7],
       status_event(call_id, 'assigned', attempt, worker, h[6] or '', now, ''))
end
return 'ok'
)lua"));
  return *script;
}

// ARGV: prefix, call_id, attempt, worker, lease_until, job_id
const redis::RedisScript& RenewScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'status', 'cancel', 'campaign')
if not h[1] or h[1] ~= attempt or h[2] ~= worker or TERMINAL[h[3]] or h[3] == 'scheduled' then
  return 'lost'
end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[5])
local campaign = h[5] or ''
if campaign ~= '' then
  local active = prefix .. 'campaign:' .. campaign .. ':active'
  if redis.call('ZSCORE', active, call_id) then redis.call('ZADD', active, 'XX', ARGV[5], call_id) end
end
if ARGV[6] ~= '' then
  -- Reset the job's idle time so XAUTOCLAIM leaves a live owner's job alone.
  redis.call('XCLAIM', prefix .. 'jobs', 'workers', worker, 0, ARGV[6], 'JUSTID')
end
if h[4] == '1' then return 'cancel' end
return 'ok'
)lua"));
  return *script;
}

// ARGV: prefix, call_id, attempt, worker, status, now, maxlen, detail field, value, …
const redis::RedisScript& TransitionScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, worker, status = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'status', 'campaign')
if not h[1] or h[1] ~= attempt or h[2] ~= worker then return 'stale' end
local cur, new = ORDER[h[3]], ORDER[status]
if cur == nil or new == nil or new < cur then return 'stale' end
if new == cur then return 'ok' end
redis.call('HSET', KEYS[1], 'status', status, 'updated', ARGV[6])
if status == 'dialing' then redis.call('HSET', KEYS[1], 'dialed', attempt) end
if status == 'in_progress' then redis.call('HSET', KEYS[1], 'answered', ARGV[6]) end
local ev = status_event(call_id, status, attempt, worker, h[4] or '', ARGV[6], '')
for i = 8, #ARGV do ev[#ev + 1] = ARGV[i] end
emit(prefix, call_id, ARGV[7], ev)
return 'ok'
)lua"));
  return *script;
}

// ARGV: prefix, call_id, attempt, worker, maxlen, field, value, … (the whole event)
const redis::RedisScript& AppendEventScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'status')
if not h[1] or h[1] ~= ARGV[3] or h[2] ~= ARGV[4] or TERMINAL[h[3]] then return 'stale' end
local ev = {}
for i = 6, #ARGV do ev[#ev + 1] = ARGV[i] end
emit(ARGV[1], ARGV[2], ARGV[5], ev)
return 'ok'
)lua"));
  return *script;
}

// KEYS[1] = campaign active set. ARGV: call_id, max, lease_until, now
const redis::RedisScript& TakeSlotScript() {
  static const redis::RedisScript* script = new redis::RedisScript(R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
local max = tonumber(ARGV[2])
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
)lua");
  return *script;
}

// ARGV: prefix, call_id, attempt, worker, outcome, reason, now, retry_at, maxlen, ttl, detail…
const redis::RedisScript& FinishScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', KEYS[1], 'attempt', 'owner', 'status', 'campaign')
if not h[1] or h[1] ~= attempt or h[2] ~= worker or TERMINAL[h[3]] or h[3] == 'scheduled' then
  return 'stale'
end
local detail = {}
for i = 11, #ARGV do detail[#detail + 1] = ARGV[i] end
finish(prefix, KEYS[1], call_id, attempt, worker, h[4] or '', ARGV[5], ARGV[6], ARGV[7],
       tonumber(ARGV[8]), ARGV[9], ARGV[10], detail)
return 'ok'
)lua"));
  return *script;
}

// ARGV: prefix, call_id, now, reason, maxlen, ttl
const redis::RedisScript& CancelScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, now = ARGV[1], ARGV[2], ARGV[3]
local h = redis.call('HMGET', KEYS[1], 'status', 'owner', 'attempt', 'campaign')
if not h[1] then return 'missing' end
if TERMINAL[h[1]] then return 'terminal' end
local campaign = h[4] or ''
if h[1] == 'queued' or h[1] == 'scheduled' or h[1] == 'assigned' then
  redis.call('ZREM', prefix .. 'delayed', call_id)
  if campaign ~= '' then redis.call('ZREM', prefix .. 'campaign:' .. campaign .. ':active', call_id) end
  redis.call('HSET', KEYS[1], 'status', 'canceled', 'ended_reason', 'canceled', 'owner', '',
             'updated', now, 'ended', now, 'cancel_reason', ARGV[4])
  local ev = status_event(call_id, 'canceled', h[3], h[2], campaign, now, 'canceled')
  ev[#ev + 1] = 'd.reason'
  ev[#ev + 1] = ARGV[4]
  emit(prefix, call_id, ARGV[5], ev)
  expire_call(prefix, call_id, ARGV[6])
  return 'canceled'
end
redis.call('HSET', KEYS[1], 'cancel', '1', 'cancel_reason', ARGV[4])
redis.call('PUBLISH', prefix .. 'worker:' .. (h[2] or '') .. ':control',
           'cancel ' .. call_id .. ' ' .. h[3])
return 'requested'
)lua"));
  return *script;
}

// KEYS[1] unused (the delayed set is derived). ARGV: prefix, now, limit, maxlen
const redis::RedisScript& PromoteScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, now = ARGV[1], ARGV[2]
local due = redis.call('ZRANGEBYSCORE', prefix .. 'delayed', '-inf', now, 'LIMIT', 0, ARGV[3])
local promoted = 0
for _, call_id in ipairs(due) do
  redis.call('ZREM', prefix .. 'delayed', call_id)
  local key = prefix .. 'call:' .. call_id
  local h = redis.call('HMGET', key, 'status', 'attempt', 'campaign')
  if h[1] == 'scheduled' then
    redis.call('HSET', key, 'status', 'queued', 'updated', now)
    redis.call('XADD', prefix .. 'jobs', '*', 'call_id', call_id, 'attempt', h[2])
    emit(prefix, call_id, ARGV[4], status_event(call_id, 'queued', h[2], '', h[3] or '', now, ''))
    promoted = promoted + 1
  end
end
return promoted
)lua"));
  return *script;
}

// ARGV: prefix, call_id, attempt, now, retry_at, maxlen, ttl
// ARGV: prefix, call_id, attempt, worker, due, stream_id, reason, now, maxlen
const redis::RedisScript& DeferScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', KEYS[1], 'attempt', 'status', 'owner', 'campaign', 'cancel')
if not h[1] or h[1] ~= attempt or h[5] == '1' then return 'stale' end
if not (h[2] == 'queued' or (h[2] == 'assigned' and h[3] == worker)) then return 'stale' end
local campaign = h[4] or ''
if campaign ~= '' then redis.call('ZREM', prefix .. 'campaign:' .. campaign .. ':active', call_id) end
redis.call('HSET', KEYS[1], 'status', 'scheduled', 'owner', '', 'lease_until', 0, 'due', ARGV[5],
           'updated', ARGV[8])
redis.call('ZADD', prefix .. 'delayed', ARGV[5], call_id)
if ARGV[6] ~= '' then
  redis.call('XACK', prefix .. 'jobs', 'workers', ARGV[6])
  redis.call('XDEL', prefix .. 'jobs', ARGV[6])
end
local ev = status_event(call_id, 'scheduled', attempt, worker, campaign, ARGV[8], '')
ev[#ev + 1] = 'd.reason'
ev[#ev + 1] = ARGV[7]
emit(prefix, call_id, ARGV[9], ev)
return 'ok'
)lua"));
  return *script;
}

const redis::RedisScript& ReclaimScript() {
  static const redis::RedisScript* script = new redis::RedisScript(Make(R"lua(
local prefix, call_id, attempt, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'attempt', 'status', 'owner', 'lease_until', 'dialed',
                     'campaign')
if not h[1] or h[1] ~= attempt or TERMINAL[h[2]] or h[2] == 'scheduled' then return 'drop' end
if h[2] == 'queued' then return 'run' end
if tonumber(h[4] or '0') >= now then return 'alive' end
if tonumber(h[5] or '0') < tonumber(attempt) then return 'run' end
finish(prefix, KEYS[1], call_id, attempt, '', h[6] or '', 'failed', 'worker_lost', now,
       tonumber(ARGV[5]), ARGV[6], ARGV[7], {'d.lost_worker', h[3] or ''})
return 'lost'
)lua"));
  return *script;
}

}  // namespace parley::calls::internal
