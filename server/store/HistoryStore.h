#pragma once
// Where a consultation's stored messages live: chat, whiteboard updates and
// whiteboard clears, each with a per-room sequence number (`seq`) that the
// store assigns. The room service is its only caller; it never waits on it.
//
// Contract shared by every implementation (memory, SQLite, Redis):
// - Every call returns at once. Its `done` callback runs on the thread of
//   `context` (skipped if `context` is gone), after the work is durable
//   where the store is durable, and callbacks run in the order the calls
//   were made. An implementation may run `done` before the call returns
//   (the memory store does when `context` lives on the calling thread);
//   callers must not rely on either. A null `context` or an empty `done`
//   means nobody wants the result: the call is made, `done` never runs.
// - seq starts at 1 for a room and grows by 1 per appended message. It is
//   never reused for that room id, not after a restart, not after the
//   room's messages were deleted (the counter outlives them). A gap appears
//   only where an append failed.
// - A message is opaque bytes to the store. Stores that keep data at rest
//   encrypt the bytes and key the deduplication keys; room ids, seqs,
//   classes and times stay in clear so the store can query and prune.
// - createdAtMs is the caller's clock (0: the store's). Within a room the
//   store keeps it non-decreasing (an earlier time is raised to the last
//   one), so the age bound always removes the oldest seqs first and the held
//   messages are always one unbroken range oldestAvailable..lastSeq.
// - Deduplication: an append whose non-empty dedupKey equals that of one of
//   the room's last max(maxMessagesPerRoom, dedup window) appends (the
//   window is 256 unless the store was configured otherwise), not older than
//   maxAgeMs and not deleted with the room's messages, is not stored again;
//   its result names the original seq with duplicate = true. Keys are kept
//   for that window even where bodies are not (history off, or a smaller
//   count bound).
// - Bounds: at most maxMessagesPerRoom messages per room (oldest dropped
//   first) and none older than maxAgeMs; 0 keeps no message bodies at all
//   (sequencing and deduplication still work over a recent window). Reads
//   apply both bounds exactly at the time they run; what lies beyond them is
//   also removed from memory or disk, at the latest by the next prune.
// - Results are read-your-writes in call order: a read or snapshot sees
//   every append made before it, whether or not that append's `done` ran.

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <limits>

namespace medrelay::store {

// What the store needs to know of a message to answer snapshot queries.
enum class MessageClass : quint8 { Chat = 1, Whiteboard = 2, WhiteboardClear = 3 };

struct StoredMessage
{
    qint64 seq = 0;
    MessageClass cls = MessageClass::Chat;
    qint64 createdAtMs = 0;
    QByteArray body; // exactly as appended
};

struct AppendRequest
{
    QString roomId;
    MessageClass cls = MessageClass::Chat;
    QByteArray body;
    QByteArray dedupKey; // empty: no deduplication
    qint64 createdAtMs = 0;
};

struct AppendResult
{
    bool ok = false;
    qint64 seq = 0;
    bool duplicate = false; // seq is the original message's
    bool conflict = false;  // an append at a given number found the room's numbering elsewhere (seq: its last)
    QString error;          // when !ok: short, no message content
};

// Messages with afterSeq < seq <= upToSeq, oldest first, at most `limit`.
// upToSeq defaults to no upper bound; 0 (or anything <= afterSeq) reads none.
struct ReadRequest
{
    QString roomId;
    qint64 afterSeq = 0;
    qint64 upToSeq = std::numeric_limits<qint64>::max();
    int limit = 10000;
};

struct ReadResult
{
    bool ok = false;
    QList<StoredMessage> messages;
    qint64 oldestAvailable = 1; // smallest seq still held; lastSeq + 1 when none is
    qint64 lastSeq = 0;         // the room's counter
    QString error;
};

// What a late joiner needs, all with seq <= upToSeq (default: no upper
// bound): the whiteboard updates since the last whiteboard clear (in order,
// at most maxWhiteboard, the most recent ones; the clear itself is not
// included) and the last `recentChat` chat messages (in order).
struct SnapshotRequest
{
    QString roomId;
    qint64 upToSeq = std::numeric_limits<qint64>::max();
    int recentChat = 50;
    int maxWhiteboard = 2000;
};

struct Snapshot
{
    bool ok = false;
    QList<StoredMessage> whiteboard;
    QList<StoredMessage> recentChat;
    QString error;
};

// A room as the store knows it, for a room that is opened again (after a
// restart, or after everyone left): where its counter stands and whether
// its consultation ended recently. A room the store never saw is ok with
// every field 0. Once refuseJoinsUntilMs has passed, a prune resets it (and
// endedBy) to empty; endedAtMs stays.
struct RoomRecord
{
    bool ok = false;
    qint64 lastSeq = 0;
    qint64 endedAtMs = 0;        // 0: not ended
    qint64 refuseJoinsUntilMs = 0; // joins refused with consultation_ended until then
    QString endedBy;
    QString error;
};

struct StoreStats
{
    qint64 queued = 0;       // calls waiting for the store's thread
    qint64 appended = 0;     // messages stored since start
    qint64 failedWrites = 0; // appends that failed
    qint64 rooms = 0;        // rooms with stored messages (approximate)
    QString backend;         // "memory", "sqlite", "redis"
    bool encrypted = false;
    bool degraded = false;   // the backend is failing or unreachable
};

struct StoreLimits
{
    int maxMessagesPerRoom = 2000;             // 0 (or less): no bodies kept
    qint64 maxAgeMs = qint64(24) * 3600 * 1000; // 0 (or less): no age bound
};

class HistoryStore
{
public:
    virtual ~HistoryStore() = default;
    Q_DISABLE_COPY_MOVE(HistoryStore)

    virtual void append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done) = 0;
    virtual void read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done) = 0;
    virtual void snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done) = 0;
    virtual void room(QString roomId, QObject *context, std::function<void(RoomRecord)> done) = 0;

    // The consultation ended: its messages are deleted now, or at
    // retainUntilMs when that is later than now; joins are refused until
    // refuseJoinsUntilMs (room() reports it). The seq counter is kept.
    virtual void endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs,
                         qint64 refuseJoinsUntilMs, QObject *context, std::function<void(bool ok)> done) = 0;
    // Deletes a room's messages now (an administrator's request), keeping its counter.
    virtual void deleteRoom(QString roomId, QObject *context, std::function<void(bool ok)> done) = 0;

    // Thread-safe and cheap.
    [[nodiscard]] virtual StoreStats stats() const = 0;
    // Waits until every call made before it is done (durable, and its
    // callback posted to its context's thread; it cannot have run yet when
    // that thread is the one waiting here); false on timeout.
    virtual bool flush(int timeoutMs) = 0;

protected:
    HistoryStore() = default;
};

} // namespace medrelay::store
