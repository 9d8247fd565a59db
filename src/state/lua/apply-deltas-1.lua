-- apply-deltas-1.lua: applies one customer's deltas atomically and effectively once (RedisStateStore).
-- The same transition as applyDelta/expireBuckets in src/state/customer-state.ts and the five merges
-- of src/state/slots.ts; the store replays these deltas in TypeScript on the returned pre-image and
-- fails loudly (CF_STATE_CONFLICT) if an outcome differs, so the two implementations cannot drift apart
-- unnoticed.
--
-- KEYS[1]  the customer's hash, `<prefix>{c:<customerId>}`. Fields:
--            m      maxEventTime, epoch ms
--            p      positions, JSON {stream: offset}
--            k      slot dictionary, JSON [slotId, ...]; a slot's alias is its 0-based index in it
--            a      archive, JSON [alias, value, alias, value, ...]
--            s      lastScore, JSON (written by recordScores; never read or written here)
--            <day>  one field per day bucket (day = floor(eventTime / 86400000), in decimal),
--                   JSON [alias, value, alias, value, ...] like the archive
--          value: a number (add/max/min), [time, scalar] (last), 8 uint32 words (bits)
-- ARGV[1]  the deltas, JSON, in order: [[stream, offset, eventTime, signupSlot or false,
--          slotId, merge, value, slotId, merge, value, ...], ...], merge one of add|max|min|last|bits
-- ARGV[2]  retentionDays: buckets of days < day(maxEventTime) - retentionDays fold into the archive
-- ARGV[3]  the layout's merges, JSON {slotId: merge}; decoded only when a bucket folds (a slot that is
--          not in it is dropped from the folded bucket, as mergeSlotValues does)
-- ARGV[4]  idle TTL in seconds, refreshed on every call; 0 = no TTL
-- ARGV[5]  '1': return the pre-image; '0': return an empty one (no observer, no byte budget)
-- ARGV[6]  '' or a day D: after the deltas, fold every bucket of a day <= D into the archive (the
--          store's per-customer byte budget; ARGV[1] is then usually '[]')
-- Returns  {outcomes, preimage}: outcomes has one character per delta, 'a' applied, 'd' duplicate
--          (its position was applied before), 's' refused (before signup; its position still advances);
--          preimage is HGETALL KEYS[1] as it was before this call (flat field, value list).
--
-- Numbers: cjson.decode is exact (strtod), but Redis 7.0's cjson.encode writes at most 14 significant
-- digits (cjson.encode_number_precision accepts 1..14), which would round sums above 10^14 and any
-- fraction. So numbers are written by num() below, never by cjson.encode: integers below 10^15 with
-- %d, others with %.14g when that reads back as the same double, else %.17g, which always does.
-- Strings go through cjson.encode (exact).

local key = KEYS[1]
local DAY = 86400000
local floor, fmt, concat = math.floor, string.format, table.concat
local bor, lshift = bit.bor, bit.lshift

local deltas = cjson.decode(ARGV[1])
local retention = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local wantPre = ARGV[5] == '1'
local foldThrough = tonumber(ARGV[6])

-- ---------------------------------------------------------------- encoding
local function num(x)
  if x == floor(x) and x > -1e15 and x < 1e15 then return fmt('%d', x) end
  local s = fmt('%.14g', x)
  if tonumber(s) ~= x then s = fmt('%.17g', x) end
  return s
end

local function scalar(v)
  local t = type(v)
  if t == 'number' then return num(v) end
  if t == 'string' then return cjson.encode(v) end
  if t == 'boolean' then return v and 'true' or 'false' end
  return 'null' -- cjson.null
end

local function value(v)
  if type(v) ~= 'table' then return scalar(v) end
  local parts = {}
  for i = 1, #v do parts[i] = scalar(v[i]) end
  return '[' .. concat(parts, ',') .. ']'
end

-- {alias: value} -> [alias, value, ...] (aliases are small integers)
local function encodeSlots(t)
  local parts, n = {}, 0
  for a, v in pairs(t) do
    n = n + 1
    parts[n] = fmt('%d', a) .. ',' .. value(v)
  end
  return '[' .. concat(parts, ',') .. ']'
end

local function decodeSlots(text)
  local flat = cjson.decode(text)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function encodePositions(t)
  local parts, n = {}, 0
  for stream, offset in pairs(t) do
    n = n + 1
    parts[n] = cjson.encode(stream) .. ':' .. num(offset)
  end
  return '{' .. concat(parts, ',') .. '}'
end

local function encodeDict(d)
  local parts = {}
  for i = 1, #d do parts[i] = cjson.encode(d[i]) end
  return '[' .. concat(parts, ',') .. ']'
end

-- ---------------------------------------------------------------- current state (decoded lazily)
local pre = redis.call('HGETALL', key)
local present = {} -- day (number) -> index of its value in pre (0: created by this call), for every bucket
local rawM, rawP, rawK, rawA
for i = 1, #pre, 2 do
  local f = pre[i]
  if f == 'm' then rawM = pre[i + 1]
  elseif f == 'p' then rawP = pre[i + 1]
  elseif f == 'k' then rawK = pre[i + 1]
  elseif f == 'a' then rawA = pre[i + 1]
  elseif f ~= 's' then
    local d = tonumber(f)
    if d then present[d] = i + 1 end
  end
end

local maxT = tonumber(rawM or '0')
local positions = rawP and cjson.decode(rawP) or {}
local dict = rawK and cjson.decode(rawK) or {}
local aliasOf = {}
for i = 1, #dict do aliasOf[dict[i]] = i - 1 end

local archive, merges
local buckets, dirty, deleted = {}, {}, {}
local maxDirty, posDirty, dictDirty, archiveDirty = false, false, false, false

local function dayField(d) return fmt('%d', d) end

local function getArchive()
  if not archive then archive = rawA and decodeSlots(rawA) or {} end
  return archive
end

local function bucket(d, create)
  local b = buckets[d]
  if b then return b end
  local at = present[d]
  if at and at > 0 then
    b = decodeSlots(pre[at])
  elseif create then
    b = {}
    present[d] = 0
  else
    return nil
  end
  buckets[d] = b
  return b
end

local function alias(id)
  local a = aliasOf[id]
  if not a then
    dict[#dict + 1] = id
    a = #dict - 1
    aliasOf[id] = a
    dictDirty = true
  end
  return a
end

local function sortedDays(limit)
  local days = {}
  for d in pairs(present) do
    if limit == nil or d < limit then days[#days + 1] = d end
  end
  table.sort(days)
  return days
end

-- ---------------------------------------------------------------- merges (slots.ts)
-- bit.bor returns a signed 32-bit number; the words are uint32 like the memory store's (x >>> 0)
local function u32(x)
  if x < 0 then return x + 4294967296 end
  return x
end

local function mergeOp(t, a, m, v)
  local cur = t[a]
  if m == 'add' then
    t[a] = (type(cur) == 'number' and cur or 0) + v
  elseif m == 'max' then
    if type(cur) ~= 'number' or v > cur then t[a] = v end
  elseif m == 'min' then
    if type(cur) ~= 'number' or v < cur then t[a] = v end
  elseif m == 'last' then
    -- later event time wins; ties keep the first applied
    if type(cur) ~= 'table' or cur[1] < v[1] then t[a] = { v[1], v[2] } end
  elseif m == 'bits' then
    local words = {}
    if type(cur) == 'table' then
      for i = 1, #cur do words[i] = cur[i] end
    else
      for i = 1, 8 do words[i] = 0 end
    end
    local w = floor(v / 32) + 1
    words[w] = u32(bor(words[w] or 0, lshift(1, v % 32)))
    t[a] = words
  else
    error('unknown merge ' .. tostring(m))
  end
end

-- mergeSlotValues: one slot of an expiring bucket into the archive
local function mergeInto(t, a, m, v)
  if m == 'bits' then
    local cur = t[a]
    local base = type(cur) == 'table' and cur or { 0, 0, 0, 0, 0, 0, 0, 0 }
    local out = {}
    for i = 1, #base do out[i] = u32(bor(base[i], v[i] or 0)) end
    t[a] = out
  else
    mergeOp(t, a, m, v)
  end
end

-- expireBuckets: every bucket of a day < limit folds into the archive, oldest first
local function foldBefore(limit)
  local days = sortedDays(limit)
  if #days == 0 then return end
  if not merges then merges = cjson.decode(ARGV[3]) end
  local arch = getArchive()
  for _, d in ipairs(days) do
    for a, v in pairs(bucket(d, false)) do
      local id = dict[a + 1]
      local m = id and merges[id]
      if m then mergeInto(arch, a, m, v) end
    end
    present[d], buckets[d], dirty[d], deleted[d] = nil, nil, nil, true
  end
  archiveDirty = true
end

-- lastSlotValue: the latest value of a 'last' slot across the archive and the buckets
local function lastValue(id)
  local a = aliasOf[id]
  if not a then return nil end
  local best = getArchive()[a]
  for _, d in ipairs(sortedDays(nil)) do
    local v = bucket(d, false)[a]
    if v ~= nil and (best == nil or v[1] > best[1]) then best = v end
  end
  if best == nil then return nil end
  return best[2]
end

-- ---------------------------------------------------------------- apply (applyDelta)
local out = {}
for i, d in ipairs(deltas) do
  local stream, offset, t, signupSlot = d[1], d[2], d[3], d[4]
  local applied = positions[stream]
  if applied ~= nil and offset <= applied then
    out[i] = 'd'
  else
    local refused = false
    -- only an event older than the newest one seen can predate signup (see applyDelta)
    if signupSlot and t < maxT then
      local signup = lastValue(signupSlot)
      refused = type(signup) == 'number' and t < signup
    end
    positions[stream] = offset
    posDirty = true
    if refused then
      out[i] = 's'
    else
      local day = floor(t / DAY)
      local b = bucket(day, true)
      for j = 5, #d, 3 do mergeOp(b, alias(d[j]), d[j + 1], d[j + 2]) end
      dirty[day] = true
      if t > maxT then
        -- the expiry limit only moves with the latest day: within a day there is nothing new to fold
        -- (stored buckets are all within retention; after a retention cut, the next day folds)
        local moved = floor(t / DAY) ~= floor(maxT / DAY)
        maxT = t
        maxDirty = true
        if moved then foldBefore(floor(maxT / DAY) - retention) end
      elseif day < floor(maxT / DAY) - retention then
        -- a very late event for an already expired day goes straight to the archive
        foldBefore(floor(maxT / DAY) - retention)
      end
      out[i] = 'a'
    end
  end
end

if foldThrough then foldBefore(foldThrough + 1) end

-- ---------------------------------------------------------------- write back what changed
local args, n = {}, 0
local function put(f, v)
  args[n + 1], args[n + 2] = f, v
  n = n + 2
end
if maxDirty then put('m', num(maxT)) end
if posDirty then put('p', encodePositions(positions)) end
if dictDirty then put('k', encodeDict(dict)) end
if archiveDirty then put('a', encodeSlots(archive)) end
for d in pairs(dirty) do
  if present[d] then put(dayField(d), encodeSlots(buckets[d])) end
end
if n > 0 then redis.call('HSET', key, unpack(args)) end

local gone = {}
for d in pairs(deleted) do
  if not present[d] then gone[#gone + 1] = dayField(d) end
end
if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end

if ttl > 0 then redis.call('EXPIRE', key, ttl) end

if wantPre then return { concat(out), pre } end
return { concat(out), {} }
