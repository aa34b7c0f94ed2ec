#include "store/MemoryHistoryStore.h"

#include <QDateTime>
#include <QPointer>

namespace medrelay::store {

namespace {

constexpr qsizetype kDedupWindow = 256;

template<typename Result>
void complete(QObject *context, const std::function<void(Result)> &done, const Result &result)
{
    if (context && done)
        done(result);
}

} // namespace

MemoryHistoryStore::MemoryHistoryStore(StoreLimits limits)
    : m_limits(limits)
{}

MemoryHistoryStore::~MemoryHistoryStore() = default;

void MemoryHistoryStore::trim(RoomHistory &room, qint64 nowMs) const
{
    const auto max = static_cast<std::size_t>(std::max(0, m_limits.maxMessagesPerRoom));
    while (room.messages.size() > max)
        room.messages.pop_front();
    while (!room.messages.empty() && m_limits.maxAgeMs > 0
           && room.messages.front().createdAtMs < nowMs - m_limits.maxAgeMs)
        room.messages.pop_front();
}

void MemoryHistoryStore::append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done)
{
    RoomHistory &room = m_rooms[request.roomId];
    AppendResult result;
    result.ok = true;
    if (!request.dedupKey.isEmpty()) {
        for (const auto &[key, seq] : room.recentKeys) {
            if (key == request.dedupKey) {
                result.seq = seq;
                result.duplicate = true;
                complete(context, done, result);
                return;
            }
        }
    }
    result.seq = ++room.lastSeq;
    ++m_appended;
    if (!request.dedupKey.isEmpty()) {
        room.recentKeys.emplace_back(request.dedupKey, result.seq);
        if (room.recentKeys.size() > kDedupWindow)
            room.recentKeys.pop_front();
    }
    if (m_limits.maxMessagesPerRoom > 0)
        room.messages.push_back(StoredMessage{result.seq, request.cls, request.createdAtMs, request.body});
    trim(room, request.createdAtMs);
    complete(context, done, result);
}

void MemoryHistoryStore::read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done)
{
    ReadResult result;
    result.ok = true;
    const auto it = m_rooms.constFind(request.roomId);
    if (it != m_rooms.cend()) {
        result.lastSeq = it->lastSeq;
        result.oldestAvailable = it->messages.empty() ? it->lastSeq + 1 : it->messages.front().seq;
        for (const StoredMessage &m : it->messages) {
            if (m.seq <= request.afterSeq || m.seq > request.upToSeq)
                continue;
            if (result.messages.size() >= request.limit)
                break;
            result.messages.append(m);
        }
    }
    complete(context, done, result);
}

void MemoryHistoryStore::snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done)
{
    Snapshot result;
    result.ok = true;
    const auto it = m_rooms.constFind(request.roomId);
    if (it != m_rooms.cend()) {
        for (const StoredMessage &m : it->messages) {
            if (m.seq > request.upToSeq)
                break;
            if (m.cls == MessageClass::WhiteboardClear)
                result.whiteboard.clear();
            else if (m.cls == MessageClass::Whiteboard)
                result.whiteboard.append(m);
            else
                result.recentChat.append(m);
        }
        if (result.recentChat.size() > request.recentChat)
            result.recentChat = result.recentChat.last(std::max(0, request.recentChat));
        if (result.whiteboard.size() > request.maxWhiteboard)
            result.whiteboard = result.whiteboard.last(std::max(0, request.maxWhiteboard));
    }
    complete(context, done, result);
}

void MemoryHistoryStore::room(QString roomId, QObject *context, std::function<void(RoomRecord)> done)
{
    RoomRecord record;
    record.ok = true;
    const auto it = m_rooms.constFind(roomId);
    if (it != m_rooms.cend()) {
        record.lastSeq = it->lastSeq;
        record.endedAtMs = it->endedAtMs;
        record.refuseJoinsUntilMs = it->refuseJoinsUntilMs;
        record.endedBy = it->endedBy;
    }
    complete(context, done, record);
}

void MemoryHistoryStore::endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs,
                                 qint64 refuseJoinsUntilMs, QObject *context, std::function<void(bool)> done)
{
    RoomHistory &room = m_rooms[roomId];
    room.endedAtMs = endedAtMs;
    room.endedBy = endedBy;
    room.refuseJoinsUntilMs = refuseJoinsUntilMs;
    room.retainUntilMs = retainUntilMs;
    if (retainUntilMs <= endedAtMs) {
        room.messages.clear();
        room.recentKeys.clear();
    }
    complete(context, done, true);
}

void MemoryHistoryStore::deleteRoom(QString roomId, QObject *context, std::function<void(bool)> done)
{
    const auto it = m_rooms.find(roomId);
    if (it != m_rooms.end()) {
        it->messages.clear();
        it->recentKeys.clear();
    }
    complete(context, done, true);
}

void MemoryHistoryStore::prune(qint64 nowMs)
{
    for (auto it = m_rooms.begin(); it != m_rooms.end(); ++it) {
        trim(*it, nowMs);
        if (it->retainUntilMs > 0 && it->retainUntilMs <= nowMs) {
            it->messages.clear();
            it->recentKeys.clear();
            it->retainUntilMs = 0;
        }
    }
}

StoreStats MemoryHistoryStore::stats() const
{
    StoreStats s;
    s.appended = m_appended;
    s.rooms = m_rooms.size();
    s.backend = QStringLiteral("memory");
    return s;
}

bool MemoryHistoryStore::flush(int)
{
    return true;
}

} // namespace medrelay::store
