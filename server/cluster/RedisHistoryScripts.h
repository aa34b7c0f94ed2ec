#pragma once
// The Lua scripts behind RedisHistoryStore. Each runs atomically in Redis, so
// numbering, deduplication, storing, trimming and publishing a message is one
// step that another instance can never interleave with. Times come from the
// caller's clock (ARGV), never Redis's, so the bounds follow one clock.
//
// Numbers cross into redis.call() as strings made with %d: Lua 5.1 would
// write a millisecond timestamp as 1.8e+12.

#include <QByteArray>

namespace medrelay::cluster::historyscripts {

enum Script : int { Append = 0, Read, Snapshot, End, Delete, Prune, Count };

// The scripts in Script order, for RedisConnection::Options::scripts.
[[nodiscard]] QList<QByteArray> all();

} // namespace medrelay::cluster::historyscripts
