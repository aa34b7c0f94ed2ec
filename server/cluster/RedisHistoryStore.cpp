#include "cluster/RedisHistoryStore.h"

#include "cluster/RedisConnection.h"
#include "cluster/RedisHistoryScripts.h"
#include "cluster/RedisKeys.h"
#include "store/RequestChecks.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QHash>
#include <QLoggingCategory>
#include <QTimer>

#include <map>

Q_LOGGING_CATEGORY(lcRedisStore, "medrelay.store")

namespace medrelay::cluster {

using namespace Qt::StringLiterals;
using store::AppendRequest;
using store::AppendResult;
using store::CallbackDispatcher;
using store::HistoryCipher;
using store::MessageClass;
using store::ReadRequest;
using store::ReadResult;
using store::RoomRecord;
using store::Snapshot;
using store::SnapshotRequest;
using store::StoredMessage;
namespace checks = store::checks;
namespace scripts = historyscripts;

namespace {

// Reads without an upper bound send -1: 2^63-1 does not survive Lua's doubles.
qint64 bound(qint64 upToSeq)
{
    return upToSeq >= (qint64(1) << 53) ? -1 : upToSeq;
}

QByteArray num(qint64 n)
{
    return QByteArray::number(n);
}

} // namespace

struct RedisHistoryStore::Op
{
    enum class Kind : quint8 { Append, Read, Snapshot, Room, End, Delete, Prune };
    Kind kind = Kind::Prune;
    quint64 ticket = 0;
    bool tracked = true; // false: the periodic prune, outside the callback order
    bool running = false;
    bool overloaded = false; // refused by back-pressure
    QString room;
    CallbackDispatcher::TargetPtr target;

    AppendRequest append;
    Publication publication;
    qint64 exactSeq = 0; // > 0: stored as this number or not at all
    ReadRequest read;
    SnapshotRequest snapshot;
    qint64 endedAt = 0;
    QString endedBy;
    qint64 retainUntil = 0;
    qint64 refuseUntil = 0;

    std::function<void(AppendResult)> onAppend;
    std::function<void(ReadResult)> onRead;
    std::function<void(Snapshot)> onSnapshot;
    std::function<void(RoomRecord)> onRoom;
    std::function<void(bool)> onDone;
};

// Lives on the store's thread: the Redis connection, the cipher, the queue of
// each room, and the release of callbacks in call order.
class RedisHistoryStore::Worker final : public QObject
{
public:
    Worker(RedisHistoryStore &store, std::unique_ptr<HistoryCipher> cipher)
        : m_store(store)
        , m_cipher(std::move(cipher))
        , m_window(checks::dedupWindow(store.m_options.limits, store.m_options.dedupWindow))
        , m_maxMessages(std::max(0, store.m_options.limits.maxMessagesPerRoom))
        , m_maxAge(std::max<qint64>(0, store.m_options.limits.maxAgeMs))
        , m_pruneTimer(this) // moves to the store's thread with the worker
    {}

    void init()
    {
        RedisConnection::Options o;
        o.url = m_store.m_options.url;
        o.name = u"history store"_s;
        o.connectTimeoutMs = m_store.m_options.connectTimeoutMs;
        o.pingTimeoutMs = m_store.m_options.pingTimeoutMs;
        o.scripts = scripts::all();
        m_redis = new RedisConnection(std::move(o), this);
        connect(m_redis, &RedisConnection::ready, this, &Worker::checkKey);
        connect(m_redis, &RedisConnection::lost, this, [this] {
            m_ready = false;
            m_store.setAvailable(false);
        });
        m_redis->start();
        if (m_store.m_options.pruneIntervalMs > 0) {
            m_pruneTimer.setInterval(m_store.m_options.pruneIntervalMs);
            connect(&m_pruneTimer, &QTimer::timeout, this, [this] {
                Op op;
                op.kind = Op::Kind::Prune;
                op.tracked = false;
                enqueue(std::move(op));
            });
            m_pruneTimer.start();
        }
    }

    // The calls queued since the last wake-up, in call order.
    void wake()
    {
        std::deque<Op> batch;
        {
            std::lock_guard lock(m_store.m_mutex);
            batch.swap(*m_store.m_inbox);
            m_store.m_wakePosted = false;
        }
        for (Op &op : batch)
            enqueue(std::move(op));
    }

private:
    qint64 now() const
    {
        return m_store.m_options.clock ? m_store.m_options.clock() : QDateTime::currentMSecsSinceEpoch();
    }

    QString unavailable() const
    {
        if (!m_fatal.isEmpty())
            return m_fatal;
        return u"history store unavailable: Redis at %1 is not reachable"_s.arg(m_store.m_options.url.redacted());
    }

    // ------------------------------------------------------------ key check

    void checkKey()
    {
        const QByteArray id = m_cipher ? m_cipher->keyId().toHex() : QByteArray("none");
        m_redis->command({"HSETNX", keys::kMeta, "keyid", id});
        m_redis->command({"HSETNX", keys::kMeta, "schema", "1"});
        m_redis->command({"HGET", keys::kMeta, "keyid"}, [this, id](const RedisValue &r) {
            if (r.isError())
                return; // the connection is gone; checked again on the next one
            QString fatal;
            const QString where = m_store.m_options.url.redacted();
            if (r.bytes != id) {
                if (r.bytes == "none")
                    fatal = u"the history in %1 was stored without encryption; a history key cannot read it "
                            "(use another database or clear it)"_s.arg(where);
                else if (id == "none")
                    fatal = u"stored history in %1 is encrypted and needs a key file (--history-key-file)"_s.arg(where);
                else
                    fatal = u"history key does not match the history in %1"_s.arg(where);
            }
            if (!fatal.isEmpty()) {
                m_fatal = fatal;
                qCCritical(lcRedisStore).noquote() << fatal;
                m_store.noteChecked(fatal);
                return;
            }
            m_redis->command({"SCARD", keys::kHeld}, [this](const RedisValue &n) {
                if (!n.isError())
                    m_store.m_roomsHeld.store(n.toInteger(), std::memory_order_relaxed);
            });
            m_ready = true;
            m_store.setAvailable(true);
            m_store.noteChecked({});
        });
    }

    // ------------------------------------------------------------ queues

    void enqueue(Op op)
    {
        if (m_lastSeq.size() > 100'000)
            m_lastSeq.clear(); // only a guess of each counter; a wrong one costs a retry
        const QString room = op.kind == Op::Kind::Prune ? QString() : op.room;
        m_queues[room].push_back(std::move(op));
        pump(room);
    }

    // Starts the front call of a room when none of it is running. A call that
    // finishes at once (refused, or Redis away) lets the loop start the next.
    void pump(const QString &room)
    {
        if (m_pumping.contains(room))
            return;
        m_pumping.insert(room);
        for (;;) {
            const auto it = m_queues.find(room);
            if (it == m_queues.end())
                break;
            if (it->empty()) {
                m_queues.erase(it);
                break;
            }
            if (it->front().running)
                break;
            Op op = std::move(it->front());
            it->front().running = true;
            run(std::move(op));
        }
        m_pumping.remove(room);
    }

    // The room's running call is done: release its callback (in call order)
    // and start the room's next call.
    void finish(const QString &room, quint64 ticket, bool tracked, std::function<void()> deliver,
                const CallbackDispatcher::TargetPtr &target)
    {
        const auto it = m_queues.find(room);
        if (it != m_queues.end() && !it->empty())
            it->pop_front();
        if (tracked)
            release(ticket, target ? std::move(deliver) : std::function<void()>(), target);
        pump(room);
    }

    void release(quint64 ticket, std::function<void()> deliver, const CallbackDispatcher::TargetPtr &target)
    {
        m_finished.emplace(ticket, CallbackDispatcher::Delivery{target, std::move(deliver)});
        std::vector<CallbackDispatcher::Delivery> ready;
        while (!m_finished.empty() && m_finished.begin()->first == m_nextRelease) {
            CallbackDispatcher::Delivery d = std::move(m_finished.begin()->second);
            m_finished.erase(m_finished.begin());
            ++m_nextRelease;
            if (d.target && d.callback)
                ready.push_back(std::move(d));
        }
        if (!ready.empty())
            m_store.m_dispatcher.post(std::move(ready));
        m_store.noteReleased(m_nextRelease);
    }

    template <typename R>
    void done(const Op &op, const std::function<void(R)> &fn, R result)
    {
        std::function<void()> deliver;
        if (fn)
            deliver = [fn, r = std::move(result)] { fn(r); };
        const QString room = op.kind == Op::Kind::Prune ? QString() : op.room;
        finish(room, op.ticket, op.tracked, std::move(deliver), op.target);
    }

    void run(Op op)
    {
        switch (op.kind) {
        case Op::Kind::Append:
            runAppend(std::move(op));
            return;
        case Op::Kind::Read:
            runRead(std::move(op));
            return;
        case Op::Kind::Snapshot:
            runSnapshot(std::move(op));
            return;
        case Op::Kind::Room:
            runRoom(std::move(op));
            return;
        case Op::Kind::End:
            runEnd(std::move(op));
            return;
        case Op::Kind::Delete:
            runDelete(std::move(op));
            return;
        case Op::Kind::Prune:
            runPrune(std::move(op));
            return;
        }
    }

    QList<QByteArray> roomKeys(const QString &room) const
    {
        return {keys::key(keys::kHistoryRoom, room), keys::key(keys::kMessages, room), keys::key(keys::kDedup, room),
                keys::key(keys::kDedupOrder, room), keys::kHeld};
    }

    QList<QByteArray> bounds(qint64 nowMs) const
    {
        return {num(nowMs), num(m_maxMessages), num(m_window), num(m_maxAge)};
    }

    // ------------------------------------------------------------ append

    QByteArray dedupTag(const QString &room, const QByteArray &key)
    {
        if (key.isEmpty())
            return {};
        if (m_cipher)
            return m_cipher->dedupTag(room, key);
        // No key (development): a plain hash, as the memory store keeps.
        QCryptographicHash h(QCryptographicHash::Sha256);
        const QByteArray r = room.toUtf8();
        h.addData(num(r.size()) + ':');
        h.addData(r);
        h.addData(key);
        return h.result().first(16);
    }

    std::optional<QByteArray> seal(const QByteArray &body, const QString &room, qint64 seq, MessageClass cls)
    {
        if (!m_cipher)
            return body;
        return m_cipher->seal(body, store::RecordBinding{room, seq, static_cast<quint8>(cls)});
    }

    void failAppend(const Op &op, const QString &why)
    {
        m_store.m_failedWrites.fetch_add(1, std::memory_order_relaxed);
        AppendResult r;
        r.error = why;
        done(op, op.onAppend, std::move(r));
    }

    void runAppend(Op op)
    {
        if (op.overloaded) {
            failAppend(op, u"history store is overloaded (more than %1 calls waiting); not stored"_s.arg(
                               m_store.m_options.maxQueued));
            return;
        }
        if (const QString e = checks::appendError(op.append); !e.isEmpty()) {
            failAppend(op, e);
            return;
        }
        if (!m_ready) {
            failAppend(op, unavailable());
            return;
        }
        auto shared = std::make_shared<Op>(std::move(op));
        shared->append.dedupKey = dedupTag(shared->room, shared->append.dedupKey);
        if (shared->append.createdAtMs <= 0)
            shared->append.createdAtMs = now();
        const qint64 expected = shared->exactSeq > 0 ? shared->exactSeq - 1 : m_lastSeq.value(shared->room, -1);
        attemptAppend(shared, expected, 0);
    }

    void attemptAppend(const std::shared_ptr<Op> &op, qint64 expected, int tries)
    {
        const QString &room = op->room;
        const AppendRequest &a = op->append;
        QByteArray record;
        QByteArray payload;
        QByteArray channel;
        if (expected >= 0) {
            const auto sealed = seal(a.body, room, expected + 1, a.cls);
            if (!sealed) {
                failAppend(*op, u"the message could not be encrypted"_s);
                return;
            }
            record = *sealed;
            if (op->publication.payload) {
                channel = op->publication.channel;
                payload = op->publication.payload(expected + 1, record);
            }
        }
        QList<QByteArray> k = roomKeys(room);
        k.append(keys::kActive);
        const QList<QByteArray> args{room.toUtf8(), num(expected), num(static_cast<int>(a.cls)), num(a.createdAtMs),
                                     num(now()), a.dedupKey, record, num(m_maxMessages), num(m_window), num(m_maxAge),
                                     channel, payload};
        m_redis->eval(scripts::Append, k, args, [this, op, tries](const RedisValue &r) {
            if (r.isError()) {
                m_lastSeq.remove(op->room);
                failAppend(*op, u"history store: %1"_s.arg(QString::fromUtf8(r.bytes.left(200))));
                return;
            }
            const qint64 code = r.at(0).toInteger(-1);
            const qint64 value = r.at(1).toInteger();
            if (code == 0 || code == 1) {
                AppendResult result;
                result.ok = true;
                result.seq = value;
                result.duplicate = code == 1;
                if (code == 0) {
                    m_lastSeq.insert(op->room, value);
                    m_store.m_appended.fetch_add(1, std::memory_order_relaxed);
                }
                done(*op, op->onAppend, std::move(result));
                return;
            }
            if (code == 2 && op->exactSeq > 0) {
                // Numbered here already: another number would be another message.
                m_lastSeq.insert(op->room, value);
                AppendResult result;
                result.conflict = true;
                result.seq = value;
                result.error = u"history store: the room's numbering moved on"_s;
                done(*op, op->onAppend, std::move(result));
                return;
            }
            if (code == 2 && tries < 64) {
                // Another instance appended meanwhile: seal for the next seq.
                m_lastSeq.insert(op->room, value);
                attemptAppend(op, value, tries + 1);
                return;
            }
            failAppend(*op, u"history store: the room's counter kept moving; not stored"_s);
        });
    }

    // ------------------------------------------------------------ reads

    std::optional<StoredMessage> entry(const RedisValue &e, const QString &room)
    {
        StoredMessage m;
        const QByteArray &id = e.at(0).bytes;
        m.seq = id.left(id.indexOf('-')).toLongLong();
        const RedisValue &fields = e.at(1);
        QByteArray record;
        for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
            const QByteArray &name = fields.at(i).bytes;
            if (name == "c")
                m.cls = static_cast<MessageClass>(fields.at(i + 1).toInteger());
            else if (name == "t")
                m.createdAtMs = fields.at(i + 1).toInteger();
            else if (name == "b")
                record = fields.at(i + 1).bytes;
        }
        if (m.seq <= 0 || !checks::isMessageClass(m.cls))
            return std::nullopt;
        if (!m_cipher) {
            m.body = record;
            return m;
        }
        auto opened = m_cipher->open(record, store::RecordBinding{room, m.seq, static_cast<quint8>(m.cls)});
        if (!opened)
            return std::nullopt;
        m.body = std::move(*opened);
        return m;
    }

    static QString damaged()
    {
        return u"a stored message failed authentication (altered, or written with another key)"_s;
    }

    void runRead(Op op)
    {
        ReadResult result;
        if (const QString e = checks::roomIdError(op.room); !e.isEmpty()) {
            result.error = e;
            done(op, op.onRead, std::move(result));
            return;
        }
        if (!m_ready) {
            result.error = unavailable();
            done(op, op.onRead, std::move(result));
            return;
        }
        const ReadRequest &req = op.read;
        QList<QByteArray> args{op.room.toUtf8(), num(req.afterSeq), num(bound(req.upToSeq)), num(req.limit)};
        args += bounds(now());
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->eval(scripts::Read, roomKeys(shared->room), args, [this, shared](const RedisValue &r) {
            ReadResult out;
            if (r.isError()) {
                out.error = u"history store: %1"_s.arg(QString::fromUtf8(r.bytes.left(200)));
            } else {
                out.ok = true;
                out.lastSeq = r.at(0).toInteger();
                out.oldestAvailable = r.at(1).toInteger(out.lastSeq + 1);
                const RedisValue &entries = r.at(2);
                for (qsizetype i = 0; i < entries.size(); ++i) {
                    auto m = entry(entries.at(i), shared->room);
                    if (!m) {
                        out = ReadResult{};
                        out.error = damaged();
                        break;
                    }
                    out.messages.append(std::move(*m));
                }
            }
            done(*shared, shared->onRead, std::move(out));
        });
    }

    void runSnapshot(Op op)
    {
        Snapshot result;
        if (const QString e = checks::roomIdError(op.room); !e.isEmpty()) {
            result.error = e;
            done(op, op.onSnapshot, std::move(result));
            return;
        }
        if (!m_ready) {
            result.error = unavailable();
            done(op, op.onSnapshot, std::move(result));
            return;
        }
        const SnapshotRequest &req = op.snapshot;
        QList<QByteArray> args{op.room.toUtf8(), num(bound(req.upToSeq)), num(std::max(0, req.recentChat)),
                               num(std::max(0, req.maxWhiteboard))};
        args += bounds(now());
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->eval(scripts::Snapshot, roomKeys(shared->room), args, [this, shared](const RedisValue &r) {
            Snapshot out;
            if (r.isError()) {
                out.error = u"history store: %1"_s.arg(QString::fromUtf8(r.bytes.left(200)));
                done(*shared, shared->onSnapshot, std::move(out));
                return;
            }
            out.ok = true;
            // Newest first from Redis; oldest first for the caller.
            for (int list = 0; list < 2 && out.ok; ++list) {
                const RedisValue &entries = r.at(list);
                QList<StoredMessage> &into = list == 0 ? out.recentChat : out.whiteboard;
                for (qsizetype i = entries.size() - 1; i >= 0; --i) {
                    auto m = entry(entries.at(i), shared->room);
                    if (!m) {
                        out = Snapshot{};
                        out.error = damaged();
                        break;
                    }
                    into.append(std::move(*m));
                }
            }
            done(*shared, shared->onSnapshot, std::move(out));
        });
    }

    void runRoom(Op op)
    {
        RoomRecord record;
        if (const QString e = checks::roomIdError(op.room); !e.isEmpty()) {
            record.error = e;
            done(op, op.onRoom, std::move(record));
            return;
        }
        if (!m_ready) {
            record.error = unavailable();
            done(op, op.onRoom, std::move(record));
            return;
        }
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->command({"HMGET", keys::key(keys::kHistoryRoom, shared->room), "last", "endedAt", "endedBy",
                          "refuseUntil"},
                         [this, shared](const RedisValue &r) {
                             RoomRecord rec;
                             if (r.isError()) {
                                 rec.error = u"history store: %1"_s.arg(QString::fromUtf8(r.bytes.left(200)));
                             } else {
                                 rec.ok = true;
                                 rec.lastSeq = r.at(0).toInteger();
                                 rec.endedAtMs = r.at(1).toInteger();
                                 rec.refuseJoinsUntilMs = r.at(3).toInteger();
                                 const QByteArray &by = r.at(2).bytes;
                                 if (!by.isEmpty()) {
                                     const auto opened = m_cipher
                                         ? m_cipher->open(by, store::RecordBinding{shared->room, 0,
                                                                                    HistoryCipher::kEndedByClass})
                                         : std::optional<QByteArray>(by);
                                     if (opened)
                                         rec.endedBy = QString::fromUtf8(*opened);
                                 }
                             }
                             done(*shared, shared->onRoom, std::move(rec));
                         });
    }

    // ------------------------------------------------------------ ending, deleting, pruning

    void runEnd(Op op)
    {
        if (!checks::roomIdError(op.room).isEmpty() || !m_ready) {
            done(op, op.onDone, false);
            return;
        }
        QByteArray endedBy;
        if (!op.endedBy.isEmpty()) {
            const auto sealed = m_cipher
                ? m_cipher->seal(op.endedBy.toUtf8(), store::RecordBinding{op.room, 0, HistoryCipher::kEndedByClass})
                : std::optional<QByteArray>(op.endedBy.toUtf8());
            if (!sealed) {
                done(op, op.onDone, false);
                return;
            }
            endedBy = *sealed;
        }
        QList<QByteArray> k = roomKeys(op.room);
        k << keys::kRefused << keys::kRetained;
        const QList<QByteArray> args{op.room.toUtf8(), num(op.endedAt), endedBy, num(op.retainUntil),
                                     num(op.refuseUntil), num(now())};
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->eval(scripts::End, k, args,
                      [this, shared](const RedisValue &r) { done(*shared, shared->onDone, !r.isError()); });
    }

    void runDelete(Op op)
    {
        if (!checks::roomIdError(op.room).isEmpty() || !m_ready) {
            done(op, op.onDone, false);
            return;
        }
        QList<QByteArray> k = roomKeys(op.room);
        k << keys::kRetained;
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->eval(scripts::Delete, k, {shared->room.toUtf8()},
                      [this, shared](const RedisValue &r) { done(*shared, shared->onDone, !r.isError()); });
    }

    void runPrune(Op op)
    {
        if (!m_ready) {
            done(op, op.onDone, false);
            return;
        }
        const QList<QByteArray> k{keys::kRefused, keys::kRetained, keys::kActive, keys::kHeld};
        const QList<QByteArray> args{num(now()), num(m_maxAge), keys::kHistoryRoom, keys::kMessages, keys::kDedup,
                                     keys::kDedupOrder};
        auto shared = std::make_shared<Op>(std::move(op));
        m_redis->eval(scripts::Prune, k, args, [this, shared](const RedisValue &r) {
            if (r.isError())
                qCWarning(lcRedisStore).noquote() << "history prune failed:" << QString::fromUtf8(r.bytes.left(200));
            else
                m_store.m_roomsHeld.store(r.toInteger(), std::memory_order_relaxed);
            done(*shared, shared->onDone, !r.isError());
        });
    }

    RedisHistoryStore &m_store;
    std::unique_ptr<HistoryCipher> m_cipher;
    const qint64 m_window;
    const qint64 m_maxMessages;
    const qint64 m_maxAge;
    RedisConnection *m_redis = nullptr;
    bool m_ready = false;
    QString m_fatal;
    QHash<QString, std::deque<Op>> m_queues;
    QSet<QString> m_pumping;
    QHash<QString, qint64> m_lastSeq; // each room's counter as last seen
    std::map<quint64, CallbackDispatcher::Delivery> m_finished; // done, waiting for earlier calls
    quint64 m_nextRelease = 0;
    QTimer m_pruneTimer;
};

RedisHistoryStore::RedisHistoryStore(Options options)
    : m_options(std::move(options))
    , m_inbox(std::make_unique<std::deque<Op>>())
{
    m_thread.setObjectName(u"medrelay-redis"_s);
}

RedisHistoryStore::Opened RedisHistoryStore::open(Options options, std::unique_ptr<HistoryCipher> cipher)
{
    Opened out;
    const int wait = options.startupWaitMs;
    std::unique_ptr<RedisHistoryStore> store(new RedisHistoryStore(std::move(options)));
    store->m_encrypted = cipher != nullptr;
    store->m_worker = new Worker(*store, std::move(cipher));
    store->m_worker->moveToThread(&store->m_thread);
    store->m_thread.start();
    QMetaObject::invokeMethod(store->m_worker, [w = store->m_worker] { w->init(); }, Qt::QueuedConnection);
    {
        std::unique_lock lock(store->m_mutex);
        store->m_progress.wait_for(lock, std::chrono::milliseconds(wait), [&] { return store->m_checked; });
        if (!store->m_fatal.isEmpty()) {
            out.error = store->m_fatal;
            lock.unlock();
            return out;
        }
        if (!store->m_checked)
            out.warning = u"Redis at %1 is not reachable yet; history is unavailable until it is"_s.arg(
                store->m_options.url.redacted());
    }
    out.store = std::move(store);
    return out;
}

RedisHistoryStore::~RedisHistoryStore()
{
    flush(5000);
    if (m_worker) {
        Worker *w = m_worker;
        QMetaObject::invokeMethod(w, [w] { delete w; }, Qt::BlockingQueuedConnection);
        m_worker = nullptr;
    }
    m_thread.quit();
    m_thread.wait();
}

void RedisHistoryStore::noteChecked(const QString &fatal)
{
    {
        std::lock_guard lock(m_mutex);
        m_checked = true;
        m_fatal = fatal;
    }
    m_progress.notify_all();
}

void RedisHistoryStore::noteReleased(quint64 released)
{
    {
        std::lock_guard lock(m_mutex);
        m_released = released;
    }
    m_progress.notify_all();
}

void RedisHistoryStore::submit(Op op)
{
    bool post = false;
    {
        std::lock_guard lock(m_mutex);
        if (op.tracked)
            op.ticket = m_submitted++;
        // Back-pressure: appends beyond the bound fail (in call order) without
        // their body.
        if (op.kind == Op::Kind::Append && m_submitted - m_released > quint64(std::max<qint64>(1, m_options.maxQueued))) {
            op.overloaded = true;
            op.append.body.clear();
        }
        m_inbox->push_back(std::move(op));
        if (!m_wakePosted) {
            m_wakePosted = true;
            post = true;
        }
    }
    if (post)
        QMetaObject::invokeMethod(m_worker, [w = m_worker] { w->wake(); }, Qt::QueuedConnection);
}

void RedisHistoryStore::setAvailabilityListener(QObject *context, std::function<void()> changed)
{
    std::lock_guard lock(m_mutex);
    m_listenerContext = context;
    m_listener = context ? std::move(changed) : std::function<void()>();
}

void RedisHistoryStore::setAvailable(bool available)
{
    if (m_available.exchange(available, std::memory_order_relaxed) == available)
        return;
    // Posted under the lock: the listener's owner clears it, under the same
    // lock, before it goes, and a call still queued for it goes with it.
    std::lock_guard lock(m_mutex);
    if (m_listenerContext && m_listener)
        QMetaObject::invokeMethod(m_listenerContext, m_listener, Qt::QueuedConnection);
}

void RedisHistoryStore::submitAppend(AppendRequest request, qint64 exactSeq, Publication publication,
                                     QObject *context, std::function<void(AppendResult)> done)
{
    Op op;
    op.kind = Op::Kind::Append;
    op.room = request.roomId;
    op.append = std::move(request);
    op.publication = std::move(publication);
    op.exactSeq = exactSeq;
    op.target = m_dispatcher.track(context);
    op.onAppend = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::appendAndPublish(AppendRequest request, Publication publication, QObject *context,
                                         std::function<void(AppendResult)> done)
{
    submitAppend(std::move(request), 0, std::move(publication), context, std::move(done));
}

void RedisHistoryStore::appendAtAndPublish(AppendRequest request, qint64 seq, Publication publication,
                                           QObject *context, std::function<void(AppendResult)> done)
{
    submitAppend(std::move(request), std::max<qint64>(1, seq), std::move(publication), context, std::move(done));
}

void RedisHistoryStore::append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done)
{
    appendAndPublish(std::move(request), {}, context, std::move(done));
}

void RedisHistoryStore::read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done)
{
    Op op;
    op.kind = Op::Kind::Read;
    op.room = request.roomId;
    op.read = std::move(request);
    op.target = m_dispatcher.track(context);
    op.onRead = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done)
{
    Op op;
    op.kind = Op::Kind::Snapshot;
    op.room = request.roomId;
    op.snapshot = std::move(request);
    op.target = m_dispatcher.track(context);
    op.onSnapshot = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::room(QString roomId, QObject *context, std::function<void(RoomRecord)> done)
{
    Op op;
    op.kind = Op::Kind::Room;
    op.room = std::move(roomId);
    op.target = m_dispatcher.track(context);
    op.onRoom = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs,
                                qint64 refuseJoinsUntilMs, QObject *context, std::function<void(bool)> done)
{
    Op op;
    op.kind = Op::Kind::End;
    op.room = std::move(roomId);
    op.endedAt = endedAtMs;
    op.endedBy = std::move(endedBy);
    op.retainUntil = retainUntilMs;
    op.refuseUntil = refuseJoinsUntilMs;
    op.target = m_dispatcher.track(context);
    op.onDone = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::deleteRoom(QString roomId, QObject *context, std::function<void(bool)> done)
{
    Op op;
    op.kind = Op::Kind::Delete;
    op.room = std::move(roomId);
    op.target = m_dispatcher.track(context);
    op.onDone = std::move(done);
    submit(std::move(op));
}

void RedisHistoryStore::prune()
{
    Op op;
    op.kind = Op::Kind::Prune;
    submit(std::move(op));
}

store::StoreStats RedisHistoryStore::stats() const
{
    store::StoreStats s;
    s.backend = u"redis"_s;
    s.encrypted = m_encrypted;
    s.appended = m_appended.load(std::memory_order_relaxed);
    s.failedWrites = m_failedWrites.load(std::memory_order_relaxed);
    s.rooms = m_roomsHeld.load(std::memory_order_relaxed);
    s.degraded = !isAvailable();
    {
        std::lock_guard lock(m_mutex);
        s.queued = static_cast<qint64>(m_submitted - m_released);
    }
    return s;
}

bool RedisHistoryStore::flush(int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    const quint64 want = m_submitted;
    return m_progress.wait_for(lock, std::chrono::milliseconds(std::max(0, timeoutMs)),
                               [&] { return m_released >= want; });
}

} // namespace medrelay::cluster
