#include "store/MemoryHistoryStore.h"

#include "store/RequestChecks.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QThread>

#include <algorithm>

namespace medrelay::store {

using namespace Qt::StringLiterals;

namespace {

// Fixed-size stand-in for a deduplication key: memory per key does not
// depend on what the caller uses as keys.
QByteArray keyTag(const QByteArray &key)
{
    return QCryptographicHash::hash(key, QCryptographicHash::Sha256).first(16);
}

} // namespace

MemoryHistoryStore::MemoryHistoryStore(Options options)
    : m_options(std::move(options)),
      m_dedupWindow(checks::dedupWindow(m_options.limits, m_options.dedupWindow))
{
    m_options.limits.maxMessagesPerRoom = std::max(0, m_options.limits.maxMessagesPerRoom);
    m_options.limits.maxAgeMs = std::max<qint64>(0, m_options.limits.maxAgeMs);
}

MemoryHistoryStore::~MemoryHistoryStore() = default;

qint64 MemoryHistoryStore::now() const
{
    return m_options.clock ? m_options.clock() : QDateTime::currentMSecsSinceEpoch();
}

template <typename R>
void MemoryHistoryStore::deliver(QObject *context, std::function<void(R)> &done, R result)
{
    if (context == nullptr || !done)
        return;
    if (context->thread() == QThread::currentThread()) {
        done(std::move(result));
        return;
    }
    std::vector<CallbackDispatcher::Delivery> one;
    one.push_back({m_dispatcher.track(context), [fn = std::move(done), r = std::move(result)] { fn(r); }});
    m_dispatcher.post(std::move(one));
}

MemoryHistoryStore::Room *MemoryHistoryStore::find(const QString &roomId)
{
    const auto it = m_rooms.find(roomId);
    return it == m_rooms.end() ? nullptr : &it->second;
}

void MemoryHistoryStore::noteHeld(bool heldBefore, const Room &room)
{
    const bool held = !room.messages.empty();
    if (held != heldBefore)
        m_roomsHeld.fetch_add(held ? 1 : -1, std::memory_order_relaxed);
}

void MemoryHistoryStore::clearHeld(Room &room, qint64 upToSeq)
{
    while (!room.messages.empty() && room.messages.front().seq <= upToSeq)
        room.messages.pop_front();
    while (!room.keys.empty() && room.keys.front().seq <= upToSeq) {
        const HeldKey &k = room.keys.front();
        if (room.keySeq.value(k.tag) == k.seq)
            room.keySeq.remove(k.tag);
        room.keys.pop_front();
    }
}

void MemoryHistoryStore::trim(Room &room, qint64 nowMs)
{
    const StoreLimits &lim = m_options.limits;
    const qint64 cutoff = lim.maxAgeMs > 0 ? nowMs - lim.maxAgeMs : std::numeric_limits<qint64>::min();
    if (room.retainUntilMs > 0 && room.retainUntilMs <= nowMs) {
        clearHeld(room, room.endedSeq);
        room.retainUntilMs = 0;
    }
    if (room.refuseJoinsUntilMs > 0 && room.refuseJoinsUntilMs <= nowMs) {
        room.refuseJoinsUntilMs = 0;
        room.endedBy.clear();
    }
    const qint64 lowestKept = room.lastSeq - lim.maxMessagesPerRoom; // seq <= this is beyond the count bound
    while (!room.messages.empty()
           && (room.messages.front().seq <= lowestKept || room.messages.front().createdAtMs < cutoff))
        room.messages.pop_front();
    const qint64 lowestKey = room.lastSeq - m_dedupWindow;
    while (!room.keys.empty() && (room.keys.front().seq <= lowestKey || room.keys.front().createdAtMs < cutoff)) {
        const HeldKey &k = room.keys.front();
        if (room.keySeq.value(k.tag) == k.seq)
            room.keySeq.remove(k.tag);
        room.keys.pop_front();
    }
}

void MemoryHistoryStore::maybePrune(qint64 nowMs)
{
    if (m_options.pruneIntervalMs > 0 && nowMs >= m_nextPruneMs) {
        m_nextPruneMs = nowMs + m_options.pruneIntervalMs;
        prune();
    }
}

void MemoryHistoryStore::prune()
{
    const qint64 nowMs = now();
    qint64 held = 0;
    for (auto &[id, room] : m_rooms) {
        trim(room, nowMs);
        held += room.messages.empty() ? 0 : 1;
    }
    m_roomsHeld.store(held, std::memory_order_relaxed);
}

void MemoryHistoryStore::append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done)
{
    AppendResult result;
    if (const QString error = checks::appendError(request); !error.isEmpty()) {
        m_failedWrites.fetch_add(1, std::memory_order_relaxed);
        result.error = error;
        deliver(context, done, std::move(result));
        return;
    }
    const qint64 nowMs = now();
    maybePrune(nowMs);
    Room &room = m_rooms[request.roomId];
    const bool heldBefore = !room.messages.empty();
    trim(room, nowMs);

    QByteArray tag;
    if (!request.dedupKey.isEmpty()) {
        tag = keyTag(request.dedupKey);
        const auto it = room.keySeq.constFind(tag);
        if (it != room.keySeq.cend()) {
            noteHeld(heldBefore, room);
            result.ok = true;
            result.seq = it.value();
            result.duplicate = true;
            deliver(context, done, std::move(result));
            return;
        }
    }

    const qint64 seq = ++room.lastSeq;
    const qint64 createdAt = std::max(request.createdAtMs > 0 ? request.createdAtMs : nowMs, room.lastCreatedAtMs);
    room.lastCreatedAtMs = createdAt;
    if (m_options.limits.maxMessagesPerRoom > 0)
        room.messages.push_back({seq, request.cls, createdAt, std::move(request.body)});
    if (!tag.isEmpty()) {
        room.keySeq.insert(tag, seq);
        room.keys.push_back({std::move(tag), seq, createdAt});
    }
    trim(room, nowMs); // the count bound, and a createdAt already past the age bound
    noteHeld(heldBefore, room);
    m_appended.fetch_add(1, std::memory_order_relaxed);

    result.ok = true;
    result.seq = seq;
    deliver(context, done, std::move(result));
}

void MemoryHistoryStore::read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done)
{
    ReadResult result;
    if (const QString error = checks::roomIdError(request.roomId); !error.isEmpty()) {
        result.error = error;
        deliver(context, done, std::move(result));
        return;
    }
    const qint64 nowMs = now();
    maybePrune(nowMs);
    result.ok = true;
    Room *room = find(request.roomId);
    if (room == nullptr) {
        deliver(context, done, std::move(result));
        return;
    }
    const bool heldBefore = !room->messages.empty();
    trim(*room, nowMs);
    noteHeld(heldBefore, *room);
    result.lastSeq = room->lastSeq;
    result.oldestAvailable = room->messages.empty() ? room->lastSeq + 1 : room->messages.front().seq;
    auto it = std::upper_bound(room->messages.cbegin(), room->messages.cend(), request.afterSeq,
                               [](qint64 s, const StoredMessage &m) { return s < m.seq; });
    for (; it != room->messages.cend() && it->seq <= request.upToSeq && result.messages.size() < request.limit; ++it)
        result.messages.append(*it);
    deliver(context, done, std::move(result));
}

void MemoryHistoryStore::snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done)
{
    Snapshot result;
    if (const QString error = checks::roomIdError(request.roomId); !error.isEmpty()) {
        result.error = error;
        deliver(context, done, std::move(result));
        return;
    }
    const qint64 nowMs = now();
    maybePrune(nowMs);
    result.ok = true;
    Room *room = find(request.roomId);
    if (room == nullptr) {
        deliver(context, done, std::move(result));
        return;
    }
    const bool heldBefore = !room->messages.empty();
    trim(*room, nowMs);
    noteHeld(heldBefore, *room);

    // Walk back from upToSeq until both lists are complete.
    auto end = std::upper_bound(room->messages.cbegin(), room->messages.cend(), request.upToSeq,
                                [](qint64 s, const StoredMessage &m) { return s < m.seq; });
    const qsizetype wantChat = std::max(0, request.recentChat);
    const qsizetype wantBoard = std::max(0, request.maxWhiteboard);
    bool boardDone = wantBoard == 0;
    for (auto it = std::make_reverse_iterator(end); it != room->messages.crend(); ++it) {
        if (boardDone && result.recentChat.size() >= wantChat)
            break;
        if (it->cls == MessageClass::Chat) {
            if (result.recentChat.size() < wantChat)
                result.recentChat.append(*it);
        } else if (!boardDone) {
            if (it->cls == MessageClass::WhiteboardClear)
                boardDone = true;
            else if (result.whiteboard.size() < wantBoard)
                result.whiteboard.append(*it);
            boardDone = boardDone || result.whiteboard.size() >= wantBoard;
        }
    }
    std::reverse(result.recentChat.begin(), result.recentChat.end());
    std::reverse(result.whiteboard.begin(), result.whiteboard.end());
    deliver(context, done, std::move(result));
}

void MemoryHistoryStore::room(QString roomId, QObject *context, std::function<void(RoomRecord)> done)
{
    RoomRecord record;
    if (const QString error = checks::roomIdError(roomId); !error.isEmpty()) {
        record.error = error;
        deliver(context, done, std::move(record));
        return;
    }
    const qint64 nowMs = now();
    maybePrune(nowMs);
    record.ok = true;
    if (Room *room = find(roomId)) {
        const bool heldBefore = !room->messages.empty();
        trim(*room, nowMs);
        noteHeld(heldBefore, *room);
        record.lastSeq = room->lastSeq;
        record.endedAtMs = room->endedAtMs;
        record.endedBy = room->endedBy;
        record.refuseJoinsUntilMs = room->refuseJoinsUntilMs;
    }
    deliver(context, done, std::move(record));
}

void MemoryHistoryStore::endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs,
                                 qint64 refuseJoinsUntilMs, QObject *context, std::function<void(bool)> done)
{
    if (!checks::roomIdError(roomId).isEmpty()) {
        deliver(context, done, false);
        return;
    }
    const qint64 nowMs = now();
    maybePrune(nowMs);
    Room &room = m_rooms[roomId];
    const bool heldBefore = !room.messages.empty();
    room.endedAtMs = endedAtMs;
    room.endedBy = std::move(endedBy);
    room.endedSeq = room.lastSeq;
    room.refuseJoinsUntilMs = refuseJoinsUntilMs;
    if (retainUntilMs > nowMs) {
        room.retainUntilMs = retainUntilMs;
    } else {
        room.retainUntilMs = 0;
        clearHeld(room, room.lastSeq);
    }
    trim(room, nowMs);
    noteHeld(heldBefore, room);
    deliver(context, done, true);
}

void MemoryHistoryStore::deleteRoom(QString roomId, QObject *context, std::function<void(bool)> done)
{
    if (!checks::roomIdError(roomId).isEmpty()) {
        deliver(context, done, false);
        return;
    }
    maybePrune(now());
    if (Room *room = find(roomId)) {
        const bool heldBefore = !room->messages.empty();
        clearHeld(*room, room->lastSeq);
        room->retainUntilMs = 0;
        noteHeld(heldBefore, *room);
    }
    deliver(context, done, true);
}

StoreStats MemoryHistoryStore::stats() const
{
    StoreStats s;
    s.backend = u"memory"_s;
    s.appended = m_appended.load(std::memory_order_relaxed);
    s.failedWrites = m_failedWrites.load(std::memory_order_relaxed);
    s.rooms = m_roomsHeld.load(std::memory_order_relaxed);
    return s;
}

bool MemoryHistoryStore::flush(int /*timeoutMs*/)
{
    return true; // every call completed before it returned
}

} // namespace medrelay::store
