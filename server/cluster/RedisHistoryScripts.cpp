#include "cluster/RedisHistoryScripts.h"

#include <QList>

namespace medrelay::cluster::historyscripts {

namespace {

// Shared by every script: numbers, stream entries, and the bounds of one
// room (count, deduplication window, age), as the HistoryStore contract
// states them.
constexpr char kPrelude[] = R"lua(
local function num(x) if not x then return 0 end return tonumber(x) or 0 end
local function str(x) return string.format('%d', x) end
local function seqOf(id) return tonumber(string.match(id, '^(%d+)')) end
local function field(entry, name)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == name then return f[i + 1] end end
  return nil
end
local function dropTagsUpTo(d, q, upTo)
  local tags = redis.call('ZRANGEBYSCORE', q, '-inf', str(upTo))
  for i = 1, #tags do redis.call('HDEL', d, tags[i]) end
  if #tags > 0 then redis.call('ZREMRANGEBYSCORE', q, '-inf', str(upTo)) end
end
local function trim(room, m, d, q, held, last, now, maxMessages, window, maxAge)
  if maxMessages > 0 and last - maxMessages >= 1 then
    redis.call('XTRIM', m, 'MINID', str(last - maxMessages + 1) .. '-0')
  end
  if last - window >= 1 then dropTagsUpTo(d, q, last - window) end
  if maxAge > 0 then
    local cutoff = now - maxAge
    -- Within a room times never decrease: what is too old is a prefix.
    for _ = 1, 100000 do
      local first = redis.call('XRANGE', m, '-', '+', 'COUNT', 1)
      if #first == 0 or num(field(first[1], 't')) >= cutoff then break end
      redis.call('XTRIM', m, 'MINID', str(seqOf(first[1][1]) + 1) .. '-0')
    end
    for _ = 1, 100000 do
      local oldest = redis.call('ZRANGE', q, 0, 0)
      if #oldest == 0 then break end
      local v = redis.call('HGET', d, oldest[1])
      if v and num(string.match(v, ':(%d+)$')) >= cutoff then break end
      redis.call('HDEL', d, oldest[1])
      redis.call('ZREM', q, oldest[1])
    end
  end
  if redis.call('XLEN', m) == 0 then redis.call('SREM', held, room) end
end
)lua";

// KEYS: room hash, messages, tags, tag order, held, active.
// ARGV: room, expected last seq (-1: unknown), class, created, now, tag,
//       record, maxMessages, window, maxAge, channel, payload.
// Returns {0, seq} stored, {1, seq} a duplicate of seq, {2, last} when the
// room's counter is not the one expected (the caller seals the record for
// the right seq and tries again).
constexpr char kAppend[] = R"lua(
local h, m, d, q, held, act = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local room, expected, cls, createdAt, now = ARGV[1], num(ARGV[2]), ARGV[3], num(ARGV[4]), num(ARGV[5])
local tag, record = ARGV[6], ARGV[7]
local maxMessages, window, maxAge = num(ARGV[8]), num(ARGV[9]), num(ARGV[10])
local channel, payload = ARGV[11], ARGV[12]
local last = num(redis.call('HGET', h, 'last'))
if tag ~= '' then
  local v = redis.call('HGET', d, tag)
  if v then
    local seq = num(string.match(v, '^(%d+)'))
    local at = num(string.match(v, ':(%d+)$'))
    if seq > last - window and (maxAge <= 0 or at >= now - maxAge) then return {1, seq} end
  end
end
if expected ~= last then return {2, last} end
local seq = last + 1
local at = math.max(createdAt, num(redis.call('HGET', h, 'lastAt')))
redis.call('HSET', h, 'last', str(seq), 'lastAt', str(at))
if maxMessages > 0 then
  redis.call('XADD', m, str(seq) .. '-0', 'c', cls, 't', str(at), 'b', record)
  redis.call('SADD', held, room)
end
if tag ~= '' then
  redis.call('HSET', d, tag, str(seq) .. ':' .. str(at))
  redis.call('ZADD', q, str(seq), tag)
end
redis.call('ZADD', act, str(at), room)
trim(room, m, d, q, held, seq, now, maxMessages, window, maxAge)
if channel ~= '' then redis.call('PUBLISH', channel, payload) end
return {0, seq}
)lua";

// KEYS: room hash, messages, tags, tag order, held.
// ARGV: room, afterSeq, upToSeq (-1: none), limit, now, maxMessages, window, maxAge.
// Returns {last, oldestAvailable, entries}.
constexpr char kRead[] = R"lua(
local h, m, d, q, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local room, afterSeq, upTo, limit, now = ARGV[1], num(ARGV[2]), num(ARGV[3]), num(ARGV[4]), num(ARGV[5])
local maxMessages, window, maxAge = num(ARGV[6]), num(ARGV[7]), num(ARGV[8])
local last = num(redis.call('HGET', h, 'last'))
trim(room, m, d, q, held, last, now, maxMessages, window, maxAge)
local entries = {}
if limit > 0 and (upTo < 0 or upTo > afterSeq) then
  local to = '+'
  if upTo >= 0 then to = str(upTo) .. '-0' end
  entries = redis.call('XRANGE', m, str(afterSeq + 1) .. '-0', to, 'COUNT', str(limit))
end
local oldest = last + 1
local first = redis.call('XRANGE', m, '-', '+', 'COUNT', 1)
if #first > 0 then oldest = seqOf(first[1][1]) end
return {last, oldest, entries}
)lua";

// KEYS: room hash, messages, tags, tag order, held.
// ARGV: room, upToSeq (-1: none), recentChat, maxWhiteboard, now, maxMessages, window, maxAge.
// Returns {chats, whiteboard}, newest first.
constexpr char kSnapshot[] = R"lua(
local h, m, d, q, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local room, upTo, wantChat, wantBoard, now = ARGV[1], num(ARGV[2]), num(ARGV[3]), num(ARGV[4]), num(ARGV[5])
local maxMessages, window, maxAge = num(ARGV[6]), num(ARGV[7]), num(ARGV[8])
local last = num(redis.call('HGET', h, 'last'))
trim(room, m, d, q, held, last, now, maxMessages, window, maxAge)
local chats, boards = {}, {}
local boardDone = wantBoard <= 0
local cursor = '+'
if upTo >= 0 then cursor = str(upTo) .. '-0' end
while (not boardDone) or #chats < wantChat do
  local batch = redis.call('XREVRANGE', m, cursor, '-', 'COUNT', 256)
  if #batch == 0 then break end
  for i = 1, #batch do
    local e = batch[i]
    local cls = field(e, 'c')
    if cls == '1' then
      if #chats < wantChat then chats[#chats + 1] = e end
    elseif not boardDone then
      if cls == '3' then boardDone = true
      else
        boards[#boards + 1] = e
        if #boards >= wantBoard then boardDone = true end
      end
    end
    if boardDone and #chats >= wantChat then break end
  end
  if #batch < 256 then break end
  cursor = '(' .. batch[#batch][1]
end
return {chats, boards}
)lua";

// KEYS: room hash, messages, tags, tag order, held, refused, retained.
// ARGV: room, endedAt, endedBy (sealed; empty: none), retainUntil, refuseUntil, now.
constexpr char kEnd[] = R"lua(
local h, m, d, q, held, ref, ret = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, endedAt, endedBy, retainUntil, refuseUntil, now =
  ARGV[1], num(ARGV[2]), ARGV[3], num(ARGV[4]), num(ARGV[5]), num(ARGV[6])
local last = num(redis.call('HGET', h, 'last'))
redis.call('HSET', h, 'last', str(last), 'endedAt', str(endedAt), 'endedSeq', str(last), 'refuseUntil', str(refuseUntil))
if endedBy == '' then redis.call('HDEL', h, 'endedBy') else redis.call('HSET', h, 'endedBy', endedBy) end
if refuseUntil > 0 then redis.call('ZADD', ref, str(refuseUntil), room) else redis.call('ZREM', ref, room) end
if retainUntil > now then
  redis.call('HSET', h, 'retainUntil', str(retainUntil))
  redis.call('ZADD', ret, str(retainUntil), room)
else
  redis.call('HSET', h, 'retainUntil', '0')
  redis.call('ZREM', ret, room)
  redis.call('DEL', m, d, q)
  redis.call('SREM', held, room)
end
return 1
)lua";

// KEYS: room hash, messages, tags, tag order, held, retained.
// ARGV: room.
constexpr char kDelete[] = R"lua(
local h, m, d, q, held, ret = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local room = ARGV[1]
redis.call('DEL', m, d, q)
redis.call('SREM', held, room)
redis.call('ZREM', ret, room)
if redis.call('EXISTS', h) == 1 then redis.call('HSET', h, 'retainUntil', '0') end
return 1
)lua";

// KEYS: refused, retained, active, held.
// ARGV: now, maxAge, room hash prefix, messages prefix, tags prefix, tag order prefix.
// Expired join refusals and retention, and rooms whose every message is past
// the age bound, at most 1000 of each per run. Returns the rooms still holding messages.
constexpr char kPrune[] = R"lua(
local ref, ret, act, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, maxAge = num(ARGV[1]), num(ARGV[2])
local hp, mp, dp, qp = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
for _, room in ipairs(redis.call('ZRANGEBYSCORE', ref, '-inf', str(now), 'LIMIT', 0, 1000)) do
  redis.call('HSET', hp .. room, 'refuseUntil', '0')
  redis.call('HDEL', hp .. room, 'endedBy')
  redis.call('ZREM', ref, room)
end
for _, room in ipairs(redis.call('ZRANGEBYSCORE', ret, '-inf', str(now), 'LIMIT', 0, 1000)) do
  local endedSeq = num(redis.call('HGET', hp .. room, 'endedSeq'))
  redis.call('XTRIM', mp .. room, 'MINID', str(endedSeq + 1) .. '-0')
  dropTagsUpTo(dp .. room, qp .. room, endedSeq)
  redis.call('HSET', hp .. room, 'retainUntil', '0')
  redis.call('ZREM', ret, room)
  if redis.call('XLEN', mp .. room) == 0 then redis.call('SREM', held, room) end
end
if maxAge > 0 then
  for _, room in ipairs(redis.call('ZRANGEBYSCORE', act, '-inf', '(' .. str(now - maxAge), 'LIMIT', 0, 1000)) do
    redis.call('DEL', mp .. room, dp .. room, qp .. room)
    redis.call('SREM', held, room)
    redis.call('ZREM', act, room)
  end
end
return redis.call('SCARD', held)
)lua";

} // namespace

QList<QByteArray> all()
{
    const QByteArray prelude(kPrelude);
    QList<QByteArray> out;
    for (const char *body : {kAppend, kRead, kSnapshot, kEnd, kDelete, kPrune})
        out.append(prelude + body);
    return out;
}

} // namespace medrelay::cluster::historyscripts
