/**
 * The Lua scripts of {@link RedisSink}, registered on the user's ioredis client with
 * `defineCommand`: ioredis sends the script body (`EVAL`) the first time on each connection and
 * `EVALSHA` afterwards, and resends it by itself when the server answers `NOSCRIPT` (script cache
 * flushed, failover), inside pipelines too. Redis runs each script atomically: no other command runs
 * between its first and last call.
 *
 * Conventions shared by every script (so that they also run on ioredis-mock's Lua interpreter):
 * - every key a script touches is declared in KEYS (record scripts take a per-call key count);
 * - replies are flat arrays built by one table constructor (no nested tables);
 * - a refusal (stale fence) is a status in the reply (`{0, currentFence}`), never an error reply,
 *   and the caller turns it into a `LeaseError`;
 * - a value read with `GET`/`HGET` counts as present only when `type(v) == 'string'` (Redis gives
 *   `false` for a missing value; ioredis-mock may give `nil` or a null userdata).
 */
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

/**
 * Upserts the records of one or more events, in any record layout (see ./layout.ts), refusing
 * versions older than what is held; optionally marks them seen in a reconciliation scope and
 * registers their events, in the same atomic call (one `EVALSHA`). On Redis Cluster a call holds
 * one event (every key in the event's slot); on a standalone server a call holds a whole batch.
 *
 * KEYS: `[1..m]` the events' indexes (HASH or SET), then (`seen = 1`) `[m+1..2m]` their seen sets,
 * then (`register = 1`) the events hash, then per record the record key and its tombstone key
 * (every key the script touches is declared, so Redis Cluster can route it and follow slot
 * migrations).
 * ARGV: `[1]` the encoding (`json` | `hash`), `[2]` the index type (`hash` | `set`), `[3]` the
 * stamp field (`''` for none), `[4]` m, `[5]` seen (`0` | `1`), `[6]` register (`0` | `1`), `[7]`
 * the seen sets' time-to-live (s), `[8]` the record form (`c` compact | `f` full), `[9]` the
 * records' `readAt` in the compact form; then (register) per event `eventId, row`; then per record,
 * compact: `e, recordId, modifiedAt, json` (`latest = modifiedAt`, `readAt = ARGV[9]`); full:
 * `e, recordId, modifiedAt, latest, readAt, n, payload…`. `e` is the record's event (1..m);
 * `modifiedAt` is the earliest and `latest` the latest instant the record's modification time can
 * denote (epoch ms; equal unless the wall-clock time was ambiguous); `readAt` is when the source
 * read this version (epoch ms, `''` unknown); the payload is the JSON text (`n = 1`) or `n / 2`
 * field–value pairs.
 *
 * First every index, seen set and the events hash is checked to be of its type (`HLEN` / `SCARD`),
 * and (json encoding) the record keys with the prefetch below, so a `WRONGTYPE` fails the call
 * before anything is written; then (register) `HSETNX events eventId row` and (seen) `SADD` of each
 * event's record IDs to its seen set + `EXPIRE`. Then per record, before anything is written: the held stamp is the
 * index field (a HASH index; a record listed earlier in the call: the time queued for it) or the
 * record's stamp field (a SET index), read only when the record key exists. The record is refused
 * when `latest < held` (older under every reading; equal → the later write wins), or when a
 * tombstone exists and `latest <= tombstone` (the deleted version or an older one) and it was not
 * read after the tombstone's stamp (`readAt`). A record that passes removes its tombstone (a
 * restore: the newer version wins). The tombstone is read only for a record key that does not
 * exist: the record scripts never leave both (a removal that writes a tombstone deletes the record
 * key, an upsert that writes the record key deletes the tombstone).
 *
 * Then: equal content → unchanged (only a changed time is written: the index field, or the stamp
 * field); missing → written, added; different → written (a hash is replaced: `DEL` + `HSET`, so
 * dropped fields vanish), updated. The json encoding reads every record and tombstone key with
 * `MGET` and the held times of the records it found with one `HMGET` per event up front, and writes with `MSET`, `DEL` and
 * one multi-field `HSET` / `SADD` per event every 1,000 records (Lua `redis.call` costs about as much
 * as the command itself; 1,000 keep `unpack` far below Lua's stack limit); a key written or a
 * tombstone dropped earlier in the call is read from what the call did, so results equal handling
 * the records one after the other.
 *
 * Reply: `{newlySeen_1..newlySeen_m (seen only), status_1..status_n}`, the number of IDs each seen
 * set gained, then per record in call order `0` unchanged, `1` added, `2` updated, `3` refused.
 */
export const UPSERT_BATCH_LUA = `
local encoding = ARGV[1]
local indexType = ARGV[2]
local stampField = ARGV[3]
local m = tonumber(ARGV[4])
local seen = ARGV[5] == '1'
local register = ARGV[6] == '1'
local compact = ARGV[8] == 'c'
local sharedReadAt = tonumber(ARGV[9])
local firstKey = m + 1
if seen then firstKey = firstKey + m end
if register then firstKey = firstKey + 1 end
local a = 10
-- A key of another type fails the call before anything is written: the indexes, seen sets and
-- events hash here (HLEN / SCARD: O(1)), the record keys with the prefetch below.
for e = 1, m do
  if indexType == 'hash' then
    redis.call('HLEN', KEYS[e])
  else
    redis.call('SCARD', KEYS[e])
  end
  if seen then redis.call('SCARD', KEYS[m + e]) end
end
if register then redis.call('HLEN', KEYS[firstKey - 1]) end
local registerAt = a
if register then a = a + 2 * m end
-- One pass over the records' arguments.
local recE, recId, recAt, recLatest, recReadAt, recFirst, recN = {}, {}, {}, {}, {}, {}, {}
local idsByEvent = {}
for e = 1, m do idsByEvent[e] = {} end
local count = 0
while a <= #ARGV do
  count = count + 1
  local e = tonumber(ARGV[a])
  recE[count] = e
  recId[count] = ARGV[a + 1]
  recAt[count] = ARGV[a + 2]
  if compact then
    recLatest[count] = tonumber(ARGV[a + 2])
    recReadAt[count] = sharedReadAt
    recFirst[count] = a + 3
    recN[count] = 1
    a = a + 4
  else
    recLatest[count] = tonumber(ARGV[a + 3])
    recReadAt[count] = tonumber(ARGV[a + 4])
    recN[count] = tonumber(ARGV[a + 5])
    recFirst[count] = a + 6
    a = a + 6 + recN[count]
  end
  local list = idsByEvent[e]
  list[#list + 1] = recId[count]
end
local reply = {}
local offset = 0
if seen then offset = m end
local prefetch = encoding == 'json'
local got = {}
local stamps = {}
local written = {}
local gone = {}
local sets = {}
local drops = {}
local fields = {}
local members = {}
local queued = {}
local pending = 0
for e = 1, m do
  fields[e] = {}
  members[e] = {}
  queued[e] = {}
end
if prefetch then
  local s = firstKey
  while s <= #KEYS do
    local t = math.min(s + 999, #KEYS)
    local part = redis.call('MGET', unpack(KEYS, s, t))
    local absent = {}
    for j = 1, t - s + 1 do
      local k = s + j - 1
      got[k] = part[j]
      if type(part[j]) ~= 'string' and (k - firstKey) % 2 == 0 then
        absent[#absent + 1] = KEYS[k]
      end
    end
    -- MGET gives nil for a key of another type too, where GET fails with WRONGTYPE: when any record
    -- key it did not find exists, GET them one by one, so that key fails the call before MSET could
    -- overwrite it. (A tombstone key of another type reads as no tombstone; the upsert never writes
    -- one, it only deletes a tombstone it read.)
    if #absent > 0 and redis.call('EXISTS', unpack(absent)) > 0 then
      for j = 1, #absent do
        redis.call('GET', absent[j])
      end
    end
    s = t + 1
  end
  if indexType == 'hash' then
    -- Held times are read only for records whose key exists (a missing record has no held time to
    -- compare; a first sync reads none).
    local heldIds = {}
    local slotsByEvent = {}
    for e = 1, m do
      heldIds[e] = {}
      slotsByEvent[e] = {}
    end
    for r = 1, count do
      if type(got[firstKey + 2 * (r - 1)]) == 'string' then
        local e = recE[r]
        local ids = heldIds[e]
        ids[#ids + 1] = recId[r]
        local list = slotsByEvent[e]
        list[#list + 1] = r
      end
    end
    for e = 1, m do
      local ids = heldIds[e]
      local slots = slotsByEvent[e]
      local s = 1
      while s <= #ids do
        local t = math.min(s + 999, #ids)
        local part = redis.call('HMGET', KEYS[e], unpack(ids, s, t))
        for j = 1, t - s + 1 do
          stamps[slots[s + j - 1]] = part[j]
        end
        s = t + 1
      end
    end
  end
end
-- The bookkeeping, once every key was read and checked.
if register then
  for e = 1, m do
    redis.call('HSETNX', KEYS[firstKey - 1], ARGV[registerAt + 2 * (e - 1)], ARGV[registerAt + 2 * (e - 1) + 1])
  end
end
if seen then
  for e = 1, m do
    local ids = idsByEvent[e]
    local gained = 0
    local s = 1
    while s <= #ids do
      local t = math.min(s + 999, #ids)
      gained = gained + redis.call('SADD', KEYS[m + e], unpack(ids, s, t))
      s = t + 1
    end
    if #ids > 0 then redis.call('EXPIRE', KEYS[m + e], ARGV[7]) end
    reply[e] = gained
  end
end
local function flush()
  if #sets > 0 then
    redis.call('MSET', unpack(sets))
    sets = {}
  end
  if #drops > 0 then
    redis.call('DEL', unpack(drops))
    drops = {}
  end
  if pending > 0 then
    for e = 1, m do
      if #fields[e] > 0 then
        redis.call('HSET', KEYS[e], unpack(fields[e]))
        fields[e] = {}
      end
      if #members[e] > 0 then
        redis.call('SADD', KEYS[e], unpack(members[e]))
        members[e] = {}
      end
    end
    pending = 0
  end
end
for r = 1, count do
  local e = recE[r]
  local indexKey = KEYS[e]
  local id = recId[r]
  local at = recAt[r]
  local latest = recLatest[r]
  local readAt = recReadAt[r]
  local n = recN[r]
  local first = recFirst[r]
  local key = KEYS[firstKey + 2 * (r - 1)]
  local tomb = KEYS[firstKey + 2 * (r - 1) + 1]
  local existed = false
  local cur = nil
  local held = {}
  local heldCount = 0
  local heldStamp = nil
  if prefetch then
    cur = written[key]
    if cur == nil then
      cur = got[firstKey + 2 * (r - 1)]
    end
    existed = type(cur) == 'string'
  else
    local all = redis.call('HGETALL', key)
    existed = #all > 0
    for j = 1, #all, 2 do
      if all[j] == stampField then
        heldStamp = all[j + 1]
      else
        held[all[j]] = all[j + 1]
        heldCount = heldCount + 1
      end
    end
  end
  if existed and indexType == 'hash' then
    heldStamp = queued[e][id]
    if heldStamp == nil then
      if prefetch then
        heldStamp = stamps[r]
      else
        heldStamp = redis.call('HGET', indexKey, id)
      end
    end
  end
  if type(heldStamp) ~= 'string' then
    heldStamp = nil
  end
  local refuse = false
  if existed and heldStamp ~= nil and tonumber(heldStamp) ~= nil and latest < tonumber(heldStamp) then
    refuse = true
  end
  local tombStamp = nil
  if not existed then
    if prefetch then
      if not gone[tomb] then
        tombStamp = got[firstKey + 2 * (r - 1) + 1]
      end
    else
      tombStamp = redis.call('GET', tomb)
    end
    if type(tombStamp) ~= 'string' then
      tombStamp = nil
    end
  end
  -- A tombstone yields to a version read after it was stamped: that is what the source holds now.
  if not refuse and tombStamp ~= nil and tonumber(tombStamp) ~= nil and latest <= tonumber(tombStamp)
    and not (readAt ~= nil and readAt > tonumber(tombStamp)) then
    refuse = true
  end
  local status = 3
  if not refuse then
    if tombStamp ~= nil then
      if prefetch then
        drops[#drops + 1] = tomb
        gone[tomb] = true
      else
        redis.call('DEL', tomb)
      end
    end
    local same = false
    if encoding == 'json' then
      local json = ARGV[first]
      same = existed and cur == json
      if not same then
        sets[#sets + 1] = key
        sets[#sets + 1] = json
        written[key] = json
      end
    else
      same = existed and heldCount * 2 == n
      if same then
        for j = first, first + n - 1, 2 do
          if held[ARGV[j]] ~= ARGV[j + 1] then
            same = false
            break
          end
        end
      end
      if same then
        if stampField ~= '' and heldStamp ~= at then
          redis.call('HSET', key, stampField, at)
        end
      else
        if existed then
          redis.call('DEL', key)
        end
        local args = {}
        for j = first, first + n - 1 do
          args[#args + 1] = ARGV[j]
        end
        if stampField ~= '' then
          args[#args + 1] = stampField
          args[#args + 1] = at
        end
        redis.call('HSET', key, unpack(args))
      end
    end
    if same then
      status = 0
    elseif existed then
      status = 2
    else
      status = 1
    end
    if indexType == 'hash' then
      if not same or heldStamp ~= at then
        local f = fields[e]
        f[#f + 1] = id
        f[#f + 1] = at
        queued[e][id] = at
        pending = pending + 1
      end
    else
      local list = members[e]
      list[#list + 1] = id
      pending = pending + 1
    end
  end
  reply[offset + r] = status
  if pending >= 1000 or #sets >= 2000 or #drops >= 1000 then
    flush()
  end
end
flush()
return {unpack(reply)}
`;

/**
 * Removes records of one event, in any record layout, leaving tombstones. Atomic per call.
 *
 * KEYS: `[1]` the event's index, then per ID `[2i]` the i-th record key and `[2i + 1]` its tombstone
 * key. ARGV: `[1]` the index type (`hash` | `set`), `[2]` the stamp field (`''` for none), `[3]` the
 * deletion instant (epoch ms, `''` when unknown), `[4]` the tombstone time-to-live (ms; `0`: no
 * tombstones), then the record IDs, the i-th for the i-th pair of keys.
 *
 * Per ID: when a deletion instant is given, the tombstone is stamped with the largest of it, the
 * held time (index field, or the record's stamp field) and an existing tombstone's stamp, and set
 * with `PX ttl` (without an instant no tombstone is written and an existing one is left as is);
 * then `DEL` the record key and `HDEL` / `SREM` the index entry.
 * Reply: `{removedId…}` — the IDs for which a record key or an index entry existed.
 */
export const REMOVE_BATCH_LUA = `
local removed = {}
local hashIndex = ARGV[1] == 'hash'
local stampField = ARGV[2]
local deletedAt = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local function bigger(a, b)
  local n = tonumber(b)
  if n == nil then return a end
  if a == nil or n > a then return n end
  return a
end
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = KEYS[2 * (i - 4)]
  local tomb = KEYS[2 * (i - 4) + 1]
  if ttl > 0 and deletedAt ~= nil then
    local stamp = deletedAt
    local held
    if hashIndex then
      held = redis.call('HGET', KEYS[1], id)
    else
      held = redis.call('HGET', key, stampField)
    end
    if type(held) == 'string' then stamp = bigger(stamp, held) end
    local prior = redis.call('GET', tomb)
    if type(prior) == 'string' then stamp = bigger(stamp, prior) end
    redis.call('SET', tomb, string.format('%.0f', stamp), 'PX', ttl)
  end
  local d = redis.call('DEL', key)
  local h
  if hashIndex then
    h = redis.call('HDEL', KEYS[1], id)
  else
    h = redis.call('SREM', KEYS[1], id)
  end
  if d > 0 or h > 0 then
    removed[#removed + 1] = id
  end
end
return {unpack(removed)}
`;

/**
 * The fence check every fenced script starts with. A write is the current lease holder's only when
 * its fence equals the counter: a lower fence is a stale owner's (a newer lease was issued), a
 * higher one means the counter went back (Redis lost its data or restarted, and a new lease was
 * issued from 1), and a missing counter means no lease was issued since the data was lost. In the
 * last two cases the writer's lease is gone with the data, so the write is refused too.
 * `staleFence` returns `nil` to allow the write, else the counter's value (`-1` when missing).
 */
const FENCE_CHECK_LUA = `
local function staleFence(fenceKey, given)
  if given == '' then return nil end
  local held = redis.call('GET', fenceKey)
  if type(held) ~= 'string' then return -1 end
  local current = tonumber(held) or -1
  if tonumber(given) ~= current then return current end
  return nil
end
`;

/**
 * Moves the watermark to `max(stored, new)`, optionally fenced. Atomic.
 *
 * KEYS: `[1]` the global meta hash, `[2]` the fence counter. ARGV: `[1]` the new instant (epoch ms),
 * `[2]` the writer's fence, or `''` for an unfenced write.
 * Reply: `{1, storedWatermark}` (decimal string), or `{0, currentFence}` when the fence is not the current one (`-1`: no counter).
 */
export const ADVANCE_WATERMARK_LUA = `${FENCE_CHECK_LUA}
local stale = staleFence(KEYS[2], ARGV[2])
if stale then return {0, stale} end
local cur = redis.call('HGET', KEYS[1], 'watermark')
local curN = nil
if type(cur) == 'string' then curN = tonumber(cur) end
if curN == nil or tonumber(ARGV[1]) > curN then
  redis.call('HSET', KEYS[1], 'watermark', ARGV[1])
  return {1, ARGV[1]}
end
return {1, cur}
`;

/**
 * Takes the lease if free and issues a fencing token. Atomic.
 *
 * KEYS: `[1]` the lease key, `[2]` the fence counter. ARGV: `[1]` owner token, `[2]` time-to-live (ms).
 * When the lease key is absent: `INCR fence`, then `SET lease owner PX ttl` (expire after ttl), so a
 * counter that is not an integer fails the script before anything is written.
 * Reply: `{1, fence}` when taken, `{0}` when held by anyone (including the same owner).
 */
export const ACQUIRE_LEASE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0}
end
-- INCR first: a fence counter that is not an integer fails the script before the lease is set
-- (a script's writes are not rolled back on error).
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, fence}
`;

/**
 * Extends the lease when the caller owns it. Atomic (compare then `PEXPIRE`).
 *
 * KEYS: `[1]` the lease key. ARGV: `[1]` owner token, `[2]` time-to-live (ms). Reply: `1` renewed, `0` not owned.
 */
export const RENEW_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/**
 * Releases the lease when the caller owns it. Atomic (compare then `DEL`).
 *
 * KEYS: `[1]` the lease key. ARGV: `[1]` owner token. Reply: `1` released, `0` not owned.
 */
export const RELEASE_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/**
 * Fenced `SET`. Atomic. KEYS: `[1]` the fence counter, `[2]` the target string key.
 * ARGV: `[1]` the writer's fence, `[2]` the value. Reply: `{1}` written, `{0, currentFence}` refused.
 */
export const FENCED_SET_LUA = `${FENCE_CHECK_LUA}
local stale = staleFence(KEYS[1], ARGV[1])
if stale then return {0, stale} end
redis.call('SET', KEYS[2], ARGV[2])
return {1}
`;

/**
 * Fenced `DEL`. Atomic. KEYS: `[1]` the fence counter, `[2]` the target key.
 * ARGV: `[1]` the writer's fence. Reply: `{1}` done, `{0, currentFence}` refused.
 */
export const FENCED_DEL_LUA = `${FENCE_CHECK_LUA}
local stale = staleFence(KEYS[1], ARGV[1])
if stale then return {0, stale} end
redis.call('DEL', KEYS[2])
return {1}
`;

/**
 * Fenced `HSET`. Atomic. KEYS: `[1]` the fence counter, `[2]` the target hash.
 * ARGV: `[1]` the writer's fence, then `field, value` pairs. Reply: `{1}` written, `{0, currentFence}` refused.
 * Both keys must be in one slot on Redis Cluster (true for the global meta hash).
 */
export const FENCED_HSET_LUA = `${FENCE_CHECK_LUA}
local stale = staleFence(KEYS[1], ARGV[1])
if stale then return {0, stale} end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return {1}
`;

/**
 * Appends dead letters to one stream, skipping content already in it. Atomic.
 * KEYS: `[1]` the dead-letter stream, `[2]` its digest hash (digest → entry ID; same slot).
 * ARGV: `[1]` the stream's approximate cap (entries), then per entry `digest, n, field, value…`
 * (`n` = the number of field and value arguments that follow).
 *
 * An entry whose digest maps to an ID still in the stream (`XRANGE id id` is not empty) is skipped:
 * a bad record listed again on every sync is stored once while its entry lasts. Otherwise
 * `XADD … MAXLEN ~ cap *` and the digest maps to the new ID. When the hash holds more than
 * `2 × cap + 200` digests (the stream trimmed their entries), digests of entries gone from the
 * stream are removed, so the hash stays about as long as the stream.
 *
 * Reply: `{appended, skipped}`.
 */
export const APPEND_DEAD_LETTERS_LUA = `
local cap = tonumber(ARGV[1])
local appended = 0
local skipped = 0
local i = 2
while i <= #ARGV do
  local digest = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local first = i + 2
  i = first + n
  -- The digest hash is only a cache: one of another type is dropped, an entry ID that does not
  -- parse counts as gone (pcall: the error is a value, not a failed script).
  local held = redis.pcall('HGET', KEYS[2], digest)
  if type(held) == 'table' and held.err then
    redis.call('DEL', KEYS[2])
    held = false
  end
  local found = type(held) == 'string' and redis.pcall('XRANGE', KEYS[1], held, held)
  if type(found) == 'table' and not found.err and #found > 0 then
    skipped = skipped + 1
  else
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', unpack(ARGV, first, first + n - 1))
    redis.call('HSET', KEYS[2], digest, id)
    appended = appended + 1
  end
end
if redis.call('HLEN', KEYS[2]) > 2 * cap + 200 then
  local all = redis.call('HGETALL', KEYS[2])
  for j = 1, #all, 2 do
    local entry = redis.pcall('XRANGE', KEYS[1], all[j + 1], all[j + 1])
    if type(entry) ~= 'table' or entry.err or #entry == 0 then
      redis.call('HDEL', KEYS[2], all[j])
    end
  end
end
return {appended, skipped}
`;

/**
 * Fenced `HSET` against a high-water mark in the hash's own slot. Atomic. KEYS: `[1]` the mark (the
 * highest fence that wrote the hash), `[2]` the target hash. ARGV: `[1]` the writer's fence, then
 * `field, value` pairs. Refused when a newer fence already wrote (the classic fencing-token check:
 * storage rejects a token lower than one it has seen); otherwise the mark becomes the fence and the
 * fields are written. Used on a Redis Cluster, where the fencing counter (`{g}`) and an event's
 * metadata (`{e:<id>}`) live in different slots and cannot be read by one script.
 * Reply: `{1}` written, `{0, markFence}` refused.
 */
export const FENCE_MARKED_HSET_LUA = `
local fence = tonumber(ARGV[1])
local mark = redis.call('GET', KEYS[1])
if type(mark) == 'string' and tonumber(mark) ~= nil and tonumber(mark) > fence then
  return {0, tonumber(mark)}
end
redis.call('SET', KEYS[1], ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return {1}
`;

/** A script argument: ioredis sends numbers and strings as their decimal / UTF-8 text. */
export type ScriptArg = string | number;

/**
 * The fixed-key script commands {@link registerScripts} adds to a client or pipeline. `R` is the
 * return type: `Promise<unknown>` on a client, the pipeline itself on a pipeline. Arguments are KEYS
 * then ARGV, as documented on each `*_LUA` constant.
 */
export interface SinkScriptCommands<R> {
  /** See {@link ADVANCE_WATERMARK_LUA}. */
  zrsAdvanceWatermark(syncMetaKey: string, fenceKey: string, instant: ScriptArg, fence: ScriptArg): R;
  /** See {@link ACQUIRE_LEASE_LUA}. */
  zrsAcquireLease(leaseKey: string, fenceKey: string, owner: string, ttlMs: ScriptArg): R;
  /** See {@link RENEW_LEASE_LUA}. */
  zrsRenewLease(leaseKey: string, owner: string, ttlMs: ScriptArg): R;
  /** See {@link RELEASE_LEASE_LUA}. */
  zrsReleaseLease(leaseKey: string, owner: string): R;
  /** See {@link FENCED_SET_LUA}. */
  zrsFencedSet(fenceKey: string, key: string, fence: ScriptArg, value: string): R;
  /** See {@link FENCED_DEL_LUA}. */
  zrsFencedDel(fenceKey: string, key: string, fence: ScriptArg): R;
  /** See {@link FENCED_HSET_LUA}. */
  zrsFencedHset(fenceKey: string, key: string, fence: ScriptArg, ...fieldValues: ScriptArg[]): R;
  /** See {@link FENCE_MARKED_HSET_LUA}. */
  zrsFenceMarkedHset(markKey: string, key: string, fence: ScriptArg, ...fieldValues: ScriptArg[]): R;
  /** See {@link APPEND_DEAD_LETTERS_LUA}. */
  zrsAppendDeadLetters(streamKey: string, digestsKey: string, cap: ScriptArg, ...entries: ScriptArg[]): R;
}

/** An ioredis client (standalone or cluster) with the sink's script commands registered. */
export type ScriptedClient = (Redis | Cluster) & SinkScriptCommands<Promise<unknown>>;

/** An ioredis pipeline with the sink's script commands available. */
export type ScriptedPipeline = ChainableCommander & SinkScriptCommands<ChainableCommander>;

/** Fixed-key script definitions: command name → `{ numberOfKeys, lua }`, as passed to ioredis `defineCommand`. */
export const SINK_SCRIPTS: Readonly<Record<keyof SinkScriptCommands<unknown>, { readonly numberOfKeys: number; readonly lua: string }>> = {
  zrsAdvanceWatermark: { numberOfKeys: 2, lua: ADVANCE_WATERMARK_LUA },
  zrsAcquireLease: { numberOfKeys: 2, lua: ACQUIRE_LEASE_LUA },
  zrsRenewLease: { numberOfKeys: 1, lua: RENEW_LEASE_LUA },
  zrsReleaseLease: { numberOfKeys: 1, lua: RELEASE_LEASE_LUA },
  zrsFencedSet: { numberOfKeys: 2, lua: FENCED_SET_LUA },
  zrsFencedDel: { numberOfKeys: 2, lua: FENCED_DEL_LUA },
  zrsFencedHset: { numberOfKeys: 2, lua: FENCED_HSET_LUA },
  zrsAppendDeadLetters: { numberOfKeys: 2, lua: APPEND_DEAD_LETTERS_LUA },
  zrsFenceMarkedHset: { numberOfKeys: 2, lua: FENCE_MARKED_HSET_LUA },
};

/**
 * Scripts whose number of keys varies per call (the record scripts declare every record key):
 * command name → Lua. Registered with `defineCommand` without `numberOfKeys`, so each call passes
 * the key count first (ioredis' documented form for dynamic keys).
 */
export const RECORD_SCRIPTS = {
  zrsUpsertBatch: UPSERT_BATCH_LUA,
  zrsRemoveBatch: REMOVE_BATCH_LUA,
} as const;

/** A record script's name (see {@link RECORD_SCRIPTS}). */
export type RecordScriptName = keyof typeof RECORD_SCRIPTS;

/**
 * Queues a variable-key script call on a pipeline: `EVALSHA sha numkeys key… arg…` through the
 * command ioredis `defineCommand` registered (body resent on `NOSCRIPT`). ioredis-mock (which has
 * no per-call key count for defined commands) evaluates the same Lua with its `eval`.
 */
export function queueScript(pipeline: ChainableCommander, name: RecordScriptName, keys: readonly string[], args: readonly ScriptArg[]): void {
  const p = pipeline as unknown as Record<string, (...a: ScriptArg[]) => unknown>;
  if (typeof p[name] === 'function') p[name]!(keys.length, ...keys, ...args);
  else p.evaluate!(RECORD_SCRIPTS[name], keys.length, ...keys, ...args);
}

/**
 * Registers the sink's scripts on a client with ioredis `defineCommand` (idempotent: defining the
 * same name again replaces it with the same script). The client then sends `EVALSHA` (the body
 * once per connection) and resends the body on `NOSCRIPT`, in pipelines too.
 *
 * @param redis - an ioredis `Redis` or `Cluster` (or ioredis-mock).
 * @returns the same client, typed with the script commands.
 */
export function registerScripts(redis: Redis | Cluster): ScriptedClient {
  for (const [name, definition] of Object.entries(SINK_SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: definition.numberOfKeys, lua: definition.lua });
  }
  // ioredis keeps defined scripts in `scriptsSet`; ioredis-mock has none and cannot take a per-call
  // key count, so the record scripts go through its `eval` there (see queueScript).
  if (typeof (redis as { scriptsSet?: unknown }).scriptsSet === 'object') {
    for (const [name, lua] of Object.entries(RECORD_SCRIPTS)) redis.defineCommand(name, { lua });
  }
  return redis as ScriptedClient;
}
