#pragma once
// History kept in memory, on the caller's thread: development without a
// history key, and history turned off (no bodies kept; seq and
// deduplication still work). Completes every call before it returns.

#include "store/HistoryStore.h"

#include <QHash>
#include <QList>

#include <deque>

namespace medrelay::store {

class MemoryHistoryStore final : public HistoryStore
{
public:
    explicit MemoryHistoryStore(StoreLimits limits = {});
    ~MemoryHistoryStore() override;

    void append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done) override;
    void read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done) override;
    void snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done) override;
    void room(QString roomId, QObject *context, std::function<void(RoomRecord)> done) override;
    void endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs, qint64 refuseJoinsUntilMs,
                 QObject *context, std::function<void(bool ok)> done) override;
    void deleteRoom(QString roomId, QObject *context, std::function<void(bool ok)> done) override;
    [[nodiscard]] StoreStats stats() const override;
    bool flush(int timeoutMs) override;

    // Drops messages past the age bound and expired ended-room records.
    void prune(qint64 nowMs);

private:
    struct RoomHistory
    {
        qint64 lastSeq = 0;
        std::deque<StoredMessage> messages;
        std::deque<std::pair<QByteArray, qint64>> recentKeys; // dedup window: key, seq
        qint64 endedAtMs = 0;
        qint64 refuseJoinsUntilMs = 0;
        qint64 retainUntilMs = 0;
        QString endedBy;
    };
    void trim(RoomHistory &room, qint64 nowMs) const;

    StoreLimits m_limits;
    QHash<QString, RoomHistory> m_rooms;
    qint64 m_appended = 0;
};

} // namespace medrelay::store
