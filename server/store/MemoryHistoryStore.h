#pragma once
// The HistoryStore kept in memory: for development without a history key, and
// for history off (maxMessagesPerRoom = 0), where it still assigns seqs and
// deduplicates retries but keeps no message bodies. Nothing survives the
// process.
//
// Works on the caller's thread: each call completes before it returns, and
// its `done` runs before the call returns when `context` lives on the calling
// thread (else it is posted there, in order). Use it from one thread. stats()
// may be read from any thread.
//
// Memory is bounded per room: at most maxMessagesPerRoom bodies, and the
// deduplication tags of the last max(maxMessagesPerRoom, dedupWindow)
// appends (16-byte hashes, whatever the key's length), none older than
// maxAgeMs. Both are enforced on every call that touches a room and, for
// rooms nobody touches, by prune(), which every call also runs once per
// pruneIntervalMs. A room's counter and end record (about 100 bytes and its
// id) stay for the life of the process so that seq is never reused; they are
// not bounded, since even a busy clinic opens only thousands of rooms a day.

#include "store/CallbackDispatcher.h"
#include "store/HistoryStore.h"

#include <atomic>
#include <deque>
#include <unordered_map>

namespace medrelay::store {

class MemoryHistoryStore final : public HistoryStore
{
public:
    struct Options
    {
        StoreLimits limits;
        int dedupWindow = 256;
        int pruneIntervalMs = 60'000;
        std::function<qint64()> clock; // ms since the epoch; empty: the system clock
    };

    explicit MemoryHistoryStore(Options options);
    MemoryHistoryStore() : MemoryHistoryStore(Options{}) {}
    ~MemoryHistoryStore() override;
    Q_DISABLE_COPY_MOVE(MemoryHistoryStore)

    void append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done) override;
    void read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done) override;
    void snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done) override;
    void room(QString roomId, QObject *context, std::function<void(RoomRecord)> done) override;
    void endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs, qint64 refuseJoinsUntilMs,
                 QObject *context, std::function<void(bool ok)> done) override;
    void deleteRoom(QString roomId, QObject *context, std::function<void(bool ok)> done) override;

    [[nodiscard]] StoreStats stats() const override;
    bool flush(int timeoutMs) override;

    // Drops what is past the age bound, expired retention and expired join
    // refusals in every room.
    void prune();

private:
    struct HeldKey
    {
        QByteArray tag;
        qint64 seq = 0;
        qint64 createdAtMs = 0;
    };
    struct Room
    {
        qint64 lastSeq = 0;
        qint64 lastCreatedAtMs = 0;
        std::deque<StoredMessage> messages; // seq ascending, one unbroken range
        std::deque<HeldKey> keys;           // seq ascending
        QHash<QByteArray, qint64> keySeq;   // tag -> seq of the keys held
        qint64 endedAtMs = 0;
        qint64 endedSeq = 0; // lastSeq when the consultation ended
        qint64 retainUntilMs = 0;
        qint64 refuseJoinsUntilMs = 0;
        QString endedBy;
    };

    template <typename R>
    void deliver(QObject *context, std::function<void(R)> &done, R result);
    [[nodiscard]] qint64 now() const;
    void maybePrune(qint64 nowMs);
    void trim(Room &room, qint64 nowMs);
    void clearHeld(Room &room, qint64 upToSeq);
    [[nodiscard]] Room *find(const QString &roomId);
    void noteHeld(bool heldBefore, const Room &room);

    Options m_options;
    qint64 m_dedupWindow = 256;
    std::unordered_map<QString, Room> m_rooms;
    qint64 m_nextPruneMs = 0;
    CallbackDispatcher m_dispatcher;

    std::atomic<qint64> m_appended{0};
    std::atomic<qint64> m_failedWrites{0};
    std::atomic<qint64> m_roomsHeld{0};
};

} // namespace medrelay::store
