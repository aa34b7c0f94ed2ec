#include "cluster/ClusterScripts.h"

namespace medrelay::cluster::clusterscripts {

namespace {

// Shared helpers. A member (or waiting guest) is a JSON object:
// c connection, i instance, u user id, n name, r role, h host, j joined (or
// waiting since), s state ("a" active, "w" away), au away until. Changes go
// out as 'E' + JSON header, and '\n' + the announcement when there is one.
// A room's keys: s state, v version, p members, w waiting, x removed users.
constexpr char kPrelude[] = R"lua(
local function num(x) if not x then return 0 end return tonumber(x) or 0 end
local function str(x) return string.format('%d', x) end
local function publish(channel, header, text)
  local payload = 'E' .. cjson.encode(header)
  if text and text ~= '' then payload = payload .. '\n' .. text end
  redis.call('PUBLISH', channel, payload)
end
local function bump(v)
  local ver = redis.call('INCR', v)
  redis.call('EXPIRE', v, 604800)
  return ver
end
local function holds(p, w, inst)
  for _, rec in ipairs(redis.call('HVALS', p)) do if cjson.decode(rec).i == inst then return true end end
  for _, rec in ipairs(redis.call('HVALS', w)) do if cjson.decode(rec).i == inst then return true end end
  return false
end
local function untrack(p, w, irp, room, inst)
  if inst and not holds(p, w, inst) then redis.call('SREM', irp .. inst, room) end
end
local function cleanup(s, p, w, x, rooms, room)
  if redis.call('HLEN', p) == 0 and redis.call('HLEN', w) == 0 then
    redis.call('DEL', s, p, w, x)
    redis.call('SREM', rooms, room)
  end
end
local function instancesOf(p, w)
  local seen, list = {}, {}
  for _, h in ipairs({p, w}) do
    for _, rec in ipairs(redis.call('HVALS', h)) do
      local i = cjson.decode(rec).i
      if i and not seen[i] then seen[i] = true; list[#list + 1] = i end
    end
  end
  return list
end
)lua";

// KEYS: s v p w x h rooms away. ARGV: room, inst, channel, irp, member,
// appointment, now, cap, waitingRoomDefault, endsAt, announcement.
constexpr char kJoin[] = R"lua(
local s, v, p, w, x, h, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local room, inst, channel, irp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local m = cjson.decode(ARGV[5])
local appt, now, cap, wrDefault, endsAt, text = ARGV[6], num(ARGV[7]), num(ARGV[8]), ARGV[9], ARGV[10], ARGV[11]
if num(redis.call('HGET', h, 'refuseUntil')) > now then return {'ended'} end
if redis.call('EXISTS', s) == 0 then
  redis.call('HSET', s, 'appt', appt, 'created', str(now), 'endsAt', endsAt, 'wr', wrDefault, 'lk', '0')
  redis.call('SADD', rooms, room)
elseif redis.call('HGET', s, 'appt') ~= appt then
  return {'mismatch'}
end
local cid = m.c
if redis.call('HEXISTS', p, cid) == 1 then return {'member'} end
if redis.call('HEXISTS', w, cid) == 1 then return {'waiting_already'} end
if m.u ~= '' and redis.call('SISMEMBER', x, m.u) == 1 then return {'removed'} end
if m.u ~= '' then
  local all = redis.call('HGETALL', p)
  for i = 1, #all, 2 do
    local o = cjson.decode(all[i + 1])
    if o.s == 'w' and o.u == m.u then
      redis.call('HDEL', p, all[i])
      redis.call('ZREM', away, room .. '\n' .. all[i])
      m.s = 'a'; m.au = '0'; m.j = o.j
      redis.call('HSET', p, cid, cjson.encode(m))
      redis.call('SADD', irp .. inst, room)
      untrack(p, w, irp, room, o.i)
      local ver = bump(v)
      publish(channel, {v = ver, o = inst, t = 'resumed', c = all[i], m = m})
      return {'resumed', ver}
    end
  end
end
if not m.h and redis.call('HGET', s, 'lk') == '1' then return {'locked'} end
if not m.h and redis.call('HGET', s, 'wr') == '1' then
  redis.call('HSET', w, cid, cjson.encode(m))
  redis.call('SADD', irp .. inst, room)
  local ver = bump(v)
  publish(channel, {v = ver, o = inst, t = 'waiting', m = m})
  return {'waiting', ver}
end
if redis.call('HLEN', p) >= cap then return {'full'} end
m.s = 'a'; m.au = '0'
redis.call('HSET', p, cid, cjson.encode(m))
redis.call('SADD', irp .. inst, room)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'joined', m = m}, text)
return {'joined', ver}
)lua";

// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection,
// reason, by, byConnection, announcement.
constexpr char kLeave[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rec = redis.call('HGET', p, cid)
if not rec then return {0} end
local o = cjson.decode(rec)
redis.call('HDEL', p, cid)
redis.call('ZREM', away, room .. '\n' .. cid)
untrack(p, w, irp, room, o.i)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'left', c = cid, why = ARGV[6], by = ARGV[7], byc = ARGV[8]}, ARGV[9])
cleanup(s, p, w, x, rooms, room)
return {1, ver}
)lua";

// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection, awayUntil.
constexpr char kAway[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid, untilMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local rec = redis.call('HGET', p, cid)
if not rec then return {0} end
local o = cjson.decode(rec)
o.s = 'w'; o.au = untilMs
redis.call('HSET', p, cid, cjson.encode(o))
redis.call('ZADD', away, untilMs, room .. '\n' .. cid)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'away', c = cid, au = untilMs})
return {1, ver}
)lua";

// A waiting guest goes: denied by a host, or cancelled (it left).
// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection, decision, by, byConnection.
constexpr char kResolve[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rec = redis.call('HGET', w, cid)
if not rec then return {0} end
local o = cjson.decode(rec)
redis.call('HDEL', w, cid)
untrack(p, w, irp, room, o.i)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'resolved', c = cid, d = ARGV[6], by = ARGV[7], byc = ARGV[8]})
cleanup(s, p, w, x, rooms, room)
return {1, ver}
)lua";

// An away member whose grace is over leaves (unless it came back).
// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection, now.
constexpr char kExpire[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], num(ARGV[6])
local rec = redis.call('HGET', p, cid)
if not rec then redis.call('ZREM', away, room .. '\n' .. cid) return {0} end
local o = cjson.decode(rec)
if o.s ~= 'w' or num(o.au) > now then return {0} end
redis.call('HDEL', p, cid)
redis.call('ZREM', away, room .. '\n' .. cid)
untrack(p, w, irp, room, o.i)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'left', c = cid, why = 'timeout'})
cleanup(s, p, w, x, rooms, room)
return {1, ver}
)lua";

// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection, cap, now, by, byConnection.
constexpr char kAdmit[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid, cap, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], num(ARGV[6]), num(ARGV[7])
local rec = redis.call('HGET', w, cid)
if not rec then return {'not_waiting'} end
if redis.call('HLEN', p) >= cap then return {'full'} end
local m = cjson.decode(rec)
m.s = 'a'; m.au = '0'; m.j = str(now)
redis.call('HDEL', w, cid)
redis.call('HSET', p, cid, cjson.encode(m))
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'admitted', m = m, by = ARGV[8], byc = ARGV[9]})
return {'ok', ver}
)lua";

// Removes a member and every connection of its user; the user may not
// come back while the room lasts.
// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, connection, by, byConnection.
constexpr char kRemove[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp, cid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rec = redis.call('HGET', p, cid)
if not rec then return {'not_found'} end
local t = cjson.decode(rec)
local gone, instances = {}, {}
local all = redis.call('HGETALL', p)
for i = 1, #all, 2 do
  local o = cjson.decode(all[i + 1])
  if all[i] == cid or (t.u ~= '' and o.u == t.u) then
    gone[#gone + 1] = all[i]
    instances[#instances + 1] = o.i
    redis.call('HDEL', p, all[i])
    redis.call('ZREM', away, room .. '\n' .. all[i])
  end
end
if t.u ~= '' then redis.call('SADD', x, t.u) end
for _, i in ipairs(instances) do untrack(p, w, irp, room, i) end
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'removed', cs = gone, u = t.u, by = ARGV[6], byc = ARGV[7]})
cleanup(s, p, w, x, rooms, room)
return {'ok', ver}
)lua";

// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, waitingRoom
// ('', '0', '1'), locked (same), by, byConnection, requestId (JSON array of
// one, or ''), cap, now. Turning the waiting room off admits everyone
// waiting, oldest first, while there is room; returns those left waiting.
constexpr char kSettings[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local wr, lk, by, byc, rq, cap, now = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], num(ARGV[10]), num(ARGV[11])
if redis.call('EXISTS', s) == 0 then return {'not_found'} end
if wr ~= '' then redis.call('HSET', s, 'wr', wr) end
if lk ~= '' then redis.call('HSET', s, 'lk', lk) end
local curWr = redis.call('HGET', s, 'wr') == '1'
local curLk = redis.call('HGET', s, 'lk') == '1'
local ver = bump(v)
local header = {v = ver, o = inst, t = 'settings', wr = curWr, lk = curLk, by = by, byc = byc}
if rq ~= '' then header.rq = cjson.decode(rq)[1] end
publish(channel, header)
local result = {'ok', ver}
if not curWr then
  local guests = {}
  local all = redis.call('HGETALL', w)
  for i = 1, #all, 2 do guests[#guests + 1] = {c = all[i], rec = all[i + 1], j = num(cjson.decode(all[i + 1]).j)} end
  table.sort(guests, function(a, b) if a.j == b.j then return a.c < b.c end return a.j < b.j end)
  for _, g in ipairs(guests) do
    if redis.call('HLEN', p) < cap then
      local m = cjson.decode(g.rec)
      m.s = 'a'; m.au = '0'; m.j = str(now)
      redis.call('HDEL', w, g.c)
      redis.call('HSET', p, g.c, cjson.encode(m))
      ver = bump(v)
      publish(channel, {v = ver, o = inst, t = 'admitted', m = m, by = by, byc = byc})
      result[2] = ver
    else
      result[#result + 1] = g.c
    end
  end
end
return result
)lua";

// KEYS: s v p w x rooms away h refused. ARGV: room, inst, channel, irp,
// reason, by, byConnection, endedBy, at, refuseUntil.
constexpr char kEnd[] = R"lua(
local s, v, p, w, x, rooms, away, h, ref = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local room, inst, channel, irp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', s) == 0 and redis.call('HLEN', p) == 0 and redis.call('HLEN', w) == 0 then return {0} end
for _, i in ipairs(instancesOf(p, w)) do redis.call('SREM', irp .. i, room) end
for _, c in ipairs(redis.call('HKEYS', p)) do redis.call('ZREM', away, room .. '\n' .. c) end
redis.call('DEL', s, p, w, x)
redis.call('SREM', rooms, room)
local refuse = num(ARGV[10])
if refuse > 0 then
  redis.call('HSET', h, 'refuseUntil', str(refuse))
  redis.call('ZADD', ref, str(refuse), room)
end
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'ended', why = ARGV[5], by = ARGV[6], byc = ARGV[7], eb = ARGV[8],
                  at = ARGV[9], rf = ARGV[10]})
return {1, ver}
)lua";

// KEYS: s v p w x rooms away. ARGV: room, inst, channel, irp, reason.
constexpr char kClose[] = R"lua(
local s, v, p, w, x, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local room, inst, channel, irp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', s) == 0 and redis.call('HLEN', p) == 0 and redis.call('HLEN', w) == 0 then return {0} end
for _, i in ipairs(instancesOf(p, w)) do redis.call('SREM', irp .. i, room) end
for _, c in ipairs(redis.call('HKEYS', p)) do redis.call('ZREM', away, room .. '\n' .. c) end
redis.call('DEL', s, p, w, x)
redis.call('SREM', rooms, room)
local ver = bump(v)
publish(channel, {v = ver, o = inst, t = 'closed', why = ARGV[5]})
return {1, ver}
)lua";

// KEYS: s v p w x h. ARGV: now.
// Returns {exists, version, appointment, created, endsAt, waitingRoom,
// locked, ended, members, waiting, removed}.
constexpr char kSnapshot[] = R"lua(
local s, v, p, w, x, h = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now = num(ARGV[1])
local ended = 0
if num(redis.call('HGET', h, 'refuseUntil')) > now then ended = 1 end
local st = redis.call('HMGET', s, 'appt', 'created', 'endsAt', 'wr', 'lk')
local exists = redis.call('EXISTS', s)
return {exists, num(redis.call('GET', v)), st[1] or '0', st[2] or '0', st[3] or '0', st[4] or '0', st[5] or '0', ended,
        redis.call('HVALS', p), redis.call('HVALS', w), redis.call('SMEMBERS', x)}
)lua";

// After the link was down: the shared state holds exactly this instance's
// members and guests of the room (others' untouched), announcing each
// difference. KEYS: s v p w x h rooms away. ARGV: room, inst, channel, irp,
// now, appointment, endsAt, waitingRoomDefault, members (JSON array),
// guests (JSON array).
constexpr char kSync[] = R"lua(
local s, v, p, w, x, h, rooms, away = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local room, inst, channel, irp, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], num(ARGV[5])
if num(redis.call('HGET', h, 'refuseUntil')) > now then return {'ended'} end
local members, guests = cjson.decode(ARGV[9]), cjson.decode(ARGV[10])
if #members == 0 and #guests == 0 and redis.call('EXISTS', s) == 0 then return {'ok'} end
if redis.call('EXISTS', s) == 0 then
  redis.call('HSET', s, 'appt', ARGV[6], 'created', str(now), 'endsAt', ARGV[7], 'wr', ARGV[8], 'lk', '0')
  redis.call('SADD', rooms, room)
end
local mine = {}
for _, m in ipairs(members) do
  mine[m.c] = true
  local rec = redis.call('HGET', p, m.c)
  if rec then
    local o = cjson.decode(rec)
    if o.s ~= m.s then
      o.s = m.s; o.au = m.au
      redis.call('HSET', p, m.c, cjson.encode(o))
      local ver = bump(v)
      if m.s == 'w' then
        redis.call('ZADD', away, m.au, room .. '\n' .. m.c)
        publish(channel, {v = ver, o = inst, t = 'away', c = m.c, au = m.au})
      else
        redis.call('ZREM', away, room .. '\n' .. m.c)
        publish(channel, {v = ver, o = inst, t = 'back', c = m.c})
      end
    end
  elseif m.u == '' or redis.call('SISMEMBER', x, m.u) == 0 then
    redis.call('HSET', p, m.c, cjson.encode(m))
    if m.s == 'w' then redis.call('ZADD', away, m.au, room .. '\n' .. m.c) end
    publish(channel, {v = bump(v), o = inst, t = 'joined', m = m})
  end
end
local all = redis.call('HGETALL', p)
for i = 1, #all, 2 do
  local o = cjson.decode(all[i + 1])
  if o.i == inst and not mine[all[i]] then
    redis.call('HDEL', p, all[i])
    redis.call('ZREM', away, room .. '\n' .. all[i])
    publish(channel, {v = bump(v), o = inst, t = 'left', c = all[i], why = 'disconnected'})
  end
end
local waiting = {}
for _, g in ipairs(guests) do
  waiting[g.c] = true
  if redis.call('HEXISTS', w, g.c) == 0 and redis.call('HEXISTS', p, g.c) == 0 then
    redis.call('HSET', w, g.c, cjson.encode(g))
    publish(channel, {v = bump(v), o = inst, t = 'waiting', m = g})
  end
end
all = redis.call('HGETALL', w)
for i = 1, #all, 2 do
  local o = cjson.decode(all[i + 1])
  if o.i == inst and not waiting[all[i]] then
    redis.call('HDEL', w, all[i])
    publish(channel, {v = bump(v), o = inst, t = 'resolved', c = all[i], d = 'cancelled'})
  end
end
if holds(p, w, inst) then redis.call('SADD', irp .. inst, room) else redis.call('SREM', irp .. inst, room) end
cleanup(s, p, w, x, rooms, room)
return {'ok'}
)lua";

// Instances whose presence lapsed: their members become away (their
// clients may resume elsewhere within the grace), their waiting guests go.
// KEYS: instances, away, rooms. ARGV: now, grace, reaper, prefixes: alive,
// instance rooms, instance stats, s, v, p, w, x, channel.
constexpr char kReap[] = R"lua(
local inst, away, rooms = KEYS[1], KEYS[2], KEYS[3]
local now, grace, reaper = num(ARGV[1]), num(ARGV[2]), ARGV[3]
local alp, irp, isp, sp, vp, pp, wp, xp, chp = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local reaped = {}
for _, id in ipairs(redis.call('HKEYS', inst)) do
  if redis.call('EXISTS', alp .. id) == 0 then
    for _, room in ipairs(redis.call('SMEMBERS', irp .. id)) do
      local p, w, v, channel = pp .. room, wp .. room, vp .. room, chp .. room
      local all = redis.call('HGETALL', p)
      for i = 1, #all, 2 do
        local o = cjson.decode(all[i + 1])
        if o.i == id and o.s ~= 'w' then
          o.s = 'w'; o.au = str(now + grace)
          redis.call('HSET', p, all[i], cjson.encode(o))
          redis.call('ZADD', away, o.au, room .. '\n' .. all[i])
          publish(channel, {v = bump(v), o = reaper, t = 'away', c = all[i], au = o.au})
        end
      end
      all = redis.call('HGETALL', w)
      for i = 1, #all, 2 do
        if cjson.decode(all[i + 1]).i == id then
          redis.call('HDEL', w, all[i])
          publish(channel, {v = bump(v), o = reaper, t = 'resolved', c = all[i], d = 'cancelled'})
        end
      end
      cleanup(sp .. room, p, w, xp .. room, rooms, room)
    end
    redis.call('DEL', irp .. id, isp .. id)
    redis.call('HDEL', inst, id)
    reaped[#reaped + 1] = id
  end
end
return reaped
)lua";

// Away members whose grace is over, in any room, whoever serves it.
// KEYS: away, rooms. ARGV: now, limit, inst, prefixes: s, v, p, w, x, channel, instance rooms.
constexpr char kExpireDue[] = R"lua(
local away, rooms = KEYS[1], KEYS[2]
local now, limit, inst = num(ARGV[1]), num(ARGV[2]), ARGV[3]
local sp, vp, pp, wp, xp, chp, irp = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local due = redis.call('ZRANGEBYSCORE', away, '-inf', str(now), 'LIMIT', 0, limit)
local done = 0
for _, entry in ipairs(due) do
  local room, cid = string.match(entry, '^(.*)\n([^\n]*)$')
  redis.call('ZREM', away, entry)
  if room then
    local p, w = pp .. room, wp .. room
    local rec = redis.call('HGET', p, cid)
    if rec then
      local o = cjson.decode(rec)
      if o.s == 'w' and num(o.au) <= now then
        redis.call('HDEL', p, cid)
        untrack(p, w, irp, room, o.i)
        publish(chp .. room, {v = bump(vp .. room), o = inst, t = 'left', c = cid, why = 'timeout'})
        cleanup(sp .. room, p, w, xp .. room, rooms, room)
        done = done + 1
      end
    end
  end
end
return done
)lua";

// The cluster for the admin API: every instance's description and figures,
// and up to `limit` rooms with their state, members and waiting count.
// KEYS: instances, rooms. ARGV: limit, prefixes: alive, instance stats, s, p, w.
constexpr char kDirectory[] = R"lua(
local inst, rooms = KEYS[1], KEYS[2]
local limit, alp, isp, sp, pp, wp = num(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local instances = {}
local all = redis.call('HGETALL', inst)
for i = 1, #all, 2 do
  instances[#instances + 1] = {all[i], all[i + 1], redis.call('GET', isp .. all[i]) or '', redis.call('EXISTS', alp .. all[i])}
end
local out = {}
local ids = redis.call('SRANDMEMBER', rooms, limit)
for _, room in ipairs(ids) do
  local st = redis.call('HMGET', sp .. room, 'appt', 'created', 'wr', 'lk')
  out[#out + 1] = {room, st[1] or '0', st[2] or '0', st[3] or '0', st[4] or '0', redis.call('HVALS', pp .. room),
                   redis.call('HVALS', wp .. room)}
end
return {instances, out, redis.call('SCARD', rooms)}
)lua";

} // namespace

QList<QByteArray> all()
{
    const QByteArray prelude(kPrelude);
    QList<QByteArray> out;
    for (const char *body : {kJoin, kLeave, kAway, kResolve, kExpire, kAdmit, kRemove, kSettings, kEnd, kClose,
                             kSnapshot, kSync, kReap, kExpireDue, kDirectory})
        out.append(prelude + body);
    return out;
}

} // namespace medrelay::cluster::clusterscripts
