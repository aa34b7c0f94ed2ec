#pragma once
// The names medrelay uses in Redis, in one place (docs/STORAGE.md describes
// the layout). A room id is always the last part of a key, after a prefix
// that holds no room id, so no two rooms' keys can be confused whatever
// characters their ids hold.
//
// Pub/Sub channels are shared by every database of a Redis server, so their
// names carry the database number: deployments on two databases of one Redis
// never hear each other.

#include <QByteArray>
#include <QString>

namespace medrelay::cluster::keys {

// History (RedisHistoryStore).
inline constexpr char kHistoryRoom[] = "mr:h:";   // hash: last, lastAt, endedAt, endedBy, endedSeq, retainUntil, refuseUntil
inline constexpr char kMessages[] = "mr:m:";      // stream: id <seq>-0, fields c (class), t (created), b (record)
inline constexpr char kDedup[] = "mr:d:";         // hash: tag -> "<seq>:<created>"
inline constexpr char kDedupOrder[] = "mr:q:";    // sorted set: tag by seq
inline constexpr char kMeta[] = "mr:meta";        // hash: keyid, schema
inline constexpr char kHeld[] = "mr:held";        // set: rooms holding message bodies
inline constexpr char kActive[] = "mr:act";       // sorted set: room by its last message's time
inline constexpr char kRetained[] = "mr:ret";     // sorted set: room by retainUntil
inline constexpr char kRefused[] = "mr:ref";      // sorted set: room by refuseUntil

// Rooms shared by instances (ClusterBus).
inline constexpr char kRoomState[] = "mr:s:";     // hash: appt, created, endsAt, wr, lk
inline constexpr char kRoomVersion[] = "mr:v:";   // integer: the room's event version (outlives the room)
inline constexpr char kMembers[] = "mr:p:";       // hash: connection id -> member (JSON)
inline constexpr char kWaiting[] = "mr:w:";       // hash: connection id -> waiting guest (JSON)
inline constexpr char kRemoved[] = "mr:x:";       // set: user ids a host removed
inline constexpr char kRooms[] = "mr:rooms";      // set: rooms with members or guests
inline constexpr char kAway[] = "mr:away";        // sorted set: "<room>\n<connection>" by the end of its grace

// Instances.
inline constexpr char kInstances[] = "mr:inst";   // hash: instance id -> description (JSON)
inline constexpr char kAlive[] = "mr:alive:";     // string with a TTL: the instance is alive
inline constexpr char kInstanceRooms[] = "mr:ir:"; // set: rooms the instance has members or guests in
inline constexpr char kInstanceStats[] = "mr:is:"; // string with a TTL: the instance's figures (JSON)

[[nodiscard]] inline QByteArray key(const char *prefix, const QString &id)
{
    return QByteArray(prefix) + id.toUtf8();
}

[[nodiscard]] inline QByteArray roomChannel(int db, const QString &roomId)
{
    return "mr:" + QByteArray::number(db) + ":room:" + roomId.toUtf8();
}

[[nodiscard]] inline QByteArray instanceChannel(int db, const QString &instanceId)
{
    return "mr:" + QByteArray::number(db) + ":inst:" + instanceId.toUtf8();
}

} // namespace medrelay::cluster::keys
