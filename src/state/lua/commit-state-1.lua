-- commit-state-1.lua: writes one customer's new state, fenced on the version it was loaded at
-- (RedisStateStore.write). The transition itself runs in TypeScript (src/state/stage-deltas.ts), once
-- for every store; this script only makes the write atomic and refuses it when another writer (an
-- instance still holding a revoked partition, say) changed the customer since it was loaded.
--
-- KEYS[1]  the customer's hash, `<prefix>{c:<customerId>}` (fields: docs/architecture.md, "Redis state
--          store"); field `v` is the version, absent = 0
-- ARGV[1]  the version the state was loaded at (decimal)
-- ARGV[2]  idle TTL in seconds, refreshed on every write; 0 = no TTL
-- ARGV[3]  N, the number of field/value pairs that follow
-- ARGV[4 .. 3+2N]          field, value, field, value, ... to set: `b` the binary state (opaque bytes
--                          here), `o:<stream>@<offset>` new outbox entries
-- ARGV[4+2N .. #ARGV]      fields to delete (trimmed outbox entries; a hash's JSON-layout fields when
--                          its first binary write migrates it)
-- Returns  1 written (the version is now ARGV[1] + 1), 0 refused (the stored version differs; nothing written)

local key = KEYS[1]
local expected = ARGV[1]
local current = redis.call('HGET', key, 'v') or '0'
if current ~= expected then return 0 end

local n = tonumber(ARGV[3])
local set = { 'v', string.format('%d', tonumber(expected) + 1) }
for i = 4, 3 + 2 * n do set[#set + 1] = ARGV[i] end
redis.call('HSET', key, unpack(set))

local firstDel = 4 + 2 * n
if #ARGV >= firstDel then redis.call('HDEL', key, unpack(ARGV, firstDel, #ARGV)) end

local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('EXPIRE', key, ttl) end
return 1
