#pragma once
// Helpers shared by the history store tests: stores of either backend on a
// temporary directory with a test clock, and calls that wait for their
// callback (running the event loop, as the room service's thread would).

#include "store/HistoryCipher.h"
#include "store/HistoryStore.h"
#include "store/MemoryHistoryStore.h"
#include "store/SqliteHistoryStore.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>

#include <atomic>
#include <memory>
#include <optional>

namespace storetest {

using namespace medrelay::store;
using namespace Qt::StringLiterals;

inline constexpr qint64 kEpochMs = 1'800'000'000'000;

// A clock the test moves by hand; the store may read it from its thread.
using TestClock = std::shared_ptr<std::atomic<qint64>>;

inline TestClock makeClock()
{
    return std::make_shared<std::atomic<qint64>>(kEpochMs);
}

inline QByteArray testKey(char fill = 'k')
{
    QByteArray key(HistoryCipher::kKeyBytes, fill);
    key[0] = 0x01; // not a repeated byte pattern only
    return key;
}

struct StoreSetup
{
    StoreLimits limits;
    int dedupWindow = 256;
    qint64 maxQueued = 100'000;
    QByteArray key = testKey();
    std::function<void()> beforeBatch;
    // SQLite only: batch gathering, and a hook that follows the commits.
    int batchIntervalUs = SqliteHistoryStore::Options{}.batchIntervalUs;
    int batchTarget = SqliteHistoryStore::Options{}.batchTarget;
    std::function<void(qsizetype)> afterCommit;
};

inline std::unique_ptr<HistoryStore> openSqlite(const QString &dir, const TestClock &clock, const StoreSetup &setup,
                                                QString *error = nullptr)
{
    QString why;
    std::unique_ptr<HistoryCipher> cipher = HistoryCipher::create(setup.key, &why);
    if (!cipher) {
        if (error)
            *error = why;
        return nullptr;
    }
    SqliteHistoryStore::Options o;
    o.dataDir = dir;
    o.limits = setup.limits;
    o.dedupWindow = setup.dedupWindow;
    o.maxQueued = setup.maxQueued;
    o.pruneIntervalMs = 0; // the tests prune when they mean to
    o.clock = [clock] { return clock->load(); };
    o.beforeBatch = setup.beforeBatch;
    o.batchIntervalUs = setup.batchIntervalUs;
    o.batchTarget = setup.batchTarget;
    o.afterCommit = setup.afterCommit;
    SqliteHistoryStore::Opened opened = SqliteHistoryStore::open(std::move(o), std::move(cipher));
    if (error)
        *error = opened.error;
    return std::move(opened.store);
}

inline std::unique_ptr<HistoryStore> openStore(const QString &backend, const QString &dir, const TestClock &clock,
                                               const StoreSetup &setup, QString *error = nullptr)
{
    if (backend == "sqlite"_L1)
        return openSqlite(dir, clock, setup, error);
    MemoryHistoryStore::Options o;
    o.limits = setup.limits;
    o.dedupWindow = setup.dedupWindow;
    o.pruneIntervalMs = 0;
    o.clock = [clock] { return clock->load(); };
    return std::make_unique<MemoryHistoryStore>(std::move(o));
}

inline void prune(HistoryStore &store)
{
    if (auto *m = dynamic_cast<MemoryHistoryStore *>(&store))
        m->prune();
    else if (auto *s = dynamic_cast<SqliteHistoryStore *>(&store))
        s->prune(); // queued: every later call sees its effect
}

// Makes one call and runs the event loop until its callback ran (at most
// timeoutMs). nullopt when it never did.
template <typename R, typename Invoke>
std::optional<R> await(QObject *context, Invoke invoke, int timeoutMs = 10'000)
{
    auto out = std::make_shared<std::optional<R>>();
    invoke(context, [out](R r) { *out = std::move(r); });
    const QDeadlineTimer deadline(timeoutMs);
    while (!out->has_value() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    return *out;
}

inline AppendRequest message(const QString &room, MessageClass cls, const QByteArray &body,
                             const QByteArray &dedupKey = {}, qint64 createdAtMs = 0)
{
    AppendRequest r;
    r.roomId = room;
    r.cls = cls;
    r.body = body;
    r.dedupKey = dedupKey;
    r.createdAtMs = createdAtMs;
    return r;
}

// Blocking wrappers: a missing callback comes back as a failed result.
inline AppendResult append(HistoryStore &s, QObject *ctx, AppendRequest request)
{
    auto r = await<AppendResult>(ctx, [&](QObject *c, auto done) { s.append(std::move(request), c, done); });
    if (!r) {
        AppendResult failed;
        failed.error = u"no callback"_s;
        return failed;
    }
    return *r;
}

inline ReadResult read(HistoryStore &s, QObject *ctx, const QString &room, qint64 afterSeq = 0,
                       qint64 upToSeq = std::numeric_limits<qint64>::max(), int limit = 10'000)
{
    ReadRequest req;
    req.roomId = room;
    req.afterSeq = afterSeq;
    req.upToSeq = upToSeq;
    req.limit = limit;
    auto r = await<ReadResult>(ctx, [&](QObject *c, auto done) { s.read(req, c, done); });
    if (!r) {
        ReadResult failed;
        failed.error = u"no callback"_s;
        return failed;
    }
    return *r;
}

inline Snapshot snapshot(HistoryStore &s, QObject *ctx, SnapshotRequest req)
{
    auto r = await<Snapshot>(ctx, [&](QObject *c, auto done) { s.snapshot(req, c, done); });
    if (!r) {
        Snapshot failed;
        failed.error = u"no callback"_s;
        return failed;
    }
    return *r;
}

inline RoomRecord room(HistoryStore &s, QObject *ctx, const QString &roomId)
{
    auto r = await<RoomRecord>(ctx, [&](QObject *c, auto done) { s.room(roomId, c, done); });
    if (!r) {
        RoomRecord failed;
        failed.error = u"no callback"_s;
        return failed;
    }
    return *r;
}

inline bool endRoom(HistoryStore &s, QObject *ctx, const QString &roomId, qint64 endedAt, const QString &endedBy,
                    qint64 retainUntil, qint64 refuseUntil)
{
    auto r = await<bool>(ctx, [&](QObject *c, auto done) {
        s.endRoom(roomId, endedAt, endedBy, retainUntil, refuseUntil, c, done);
    });
    return r.value_or(false);
}

inline bool deleteRoom(HistoryStore &s, QObject *ctx, const QString &roomId)
{
    auto r = await<bool>(ctx, [&](QObject *c, auto done) { s.deleteRoom(roomId, c, done); });
    return r.value_or(false);
}

inline QList<qint64> seqs(const QList<StoredMessage> &messages)
{
    QList<qint64> out;
    for (const StoredMessage &m : messages)
        out.append(m.seq);
    return out;
}

inline QList<QByteArray> bodies(const QList<StoredMessage> &messages)
{
    QList<QByteArray> out;
    for (const StoredMessage &m : messages)
        out.append(m.body);
    return out;
}

inline QList<qint64> range(qint64 first, qint64 last)
{
    QList<qint64> out;
    for (qint64 s = first; s <= last; ++s)
        out.append(s);
    return out;
}

} // namespace storetest
