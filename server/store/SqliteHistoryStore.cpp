#include "store/SqliteHistoryStore.h"

#include "store/SqliteHistoryDatabase.h"

#include <QDir>
#include <QLoggingCategory>

#include <pthread.h>

#include <chrono>
#include <future>
#include <variant>

namespace medrelay::store {

using namespace Qt::StringLiterals;

namespace {

Q_LOGGING_CATEGORY(lcStore, "medrelay.store")

template <class... Ts>
struct Overloaded : Ts...
{
    using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

} // namespace

struct SqliteHistoryStore::Call
{
    struct Append
    {
        AppendRequest request;
        std::function<void(AppendResult)> done;
        AppendResult result;
        bool refused = false; // over the queue bound: never reaches the database
    };
    struct Read
    {
        ReadRequest request;
        std::function<void(ReadResult)> done;
        ReadResult result;
    };
    struct TakeSnapshot
    {
        SnapshotRequest request;
        std::function<void(Snapshot)> done;
        Snapshot result;
    };
    struct Room
    {
        QString roomId;
        std::function<void(RoomRecord)> done;
        RoomRecord result;
    };
    struct End
    {
        QString roomId;
        qint64 endedAtMs = 0;
        QString endedBy;
        qint64 retainUntilMs = 0;
        qint64 refuseJoinsUntilMs = 0;
        std::function<void(bool)> done;
        bool result = false;
    };
    struct Delete
    {
        QString roomId;
        std::function<void(bool)> done;
        bool result = false;
    };
    struct Prune
    {
    };

    CallbackDispatcher::TargetPtr target;
    std::variant<Append, Read, TakeSnapshot, Room, End, Delete, Prune> op;
};

SqliteHistoryStore::SqliteHistoryStore(Options options) : m_options(std::move(options))
{
    m_filePath = QDir(QDir(m_options.dataDir).absolutePath()).filePath(SqliteHistoryDatabase::kFileName);
}

SqliteHistoryStore::Opened SqliteHistoryStore::open(Options options, std::unique_ptr<HistoryCipher> cipher)
{
    Opened out;
    std::unique_ptr<SqliteHistoryStore> store(new SqliteHistoryStore(std::move(options)));
    std::promise<QString> opened;
    std::future<QString> outcome = opened.get_future();
    store->m_thread = std::thread([s = store.get(), c = std::move(cipher), &opened]() mutable {
        s->run(std::move(c), &opened);
    });
    out.error = outcome.get();
    if (out.error.isEmpty())
        out.store = std::move(store);
    return out; // on error the thread has ended; ~SqliteHistoryStore joins it
}

SqliteHistoryStore::~SqliteHistoryStore()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true; // also ends any gathering: everything queued is written now
    }
    m_wake.notify_all();
    if (m_thread.joinable())
        m_thread.join();
}

void SqliteHistoryStore::enqueue(Call call)
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        if (auto *append = std::get_if<Call::Append>(&call.op);
            append != nullptr && qint64(m_queue.size()) >= m_options.maxQueued) {
            // Keep its place in the callback order, not its body.
            append->refused = true;
            append->request = AppendRequest{};
            m_failedWrites.fetch_add(1, std::memory_order_relaxed);
        }
        m_queue.push_back(std::move(call));
        ++m_submitted;
        m_queued.store(qint64(m_queue.size()), std::memory_order_relaxed);
        // A thread gathering a batch sleeps until its time is up: waking it
        // for every call would cost more than the wait saves.
        wake = m_waiting == Waiting::Work
            || (m_waiting == Waiting::MoreWork && qint64(m_queue.size()) >= m_options.batchTarget);
    }
    if (wake)
        m_wake.notify_one();
}

void SqliteHistoryStore::append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr), Call::Append{std::move(request), std::move(done), {}}});
}

void SqliteHistoryStore::read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr), Call::Read{std::move(request), std::move(done), {}}});
}

void SqliteHistoryStore::snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr),
             Call::TakeSnapshot{std::move(request), std::move(done), {}}});
}

void SqliteHistoryStore::room(QString roomId, QObject *context, std::function<void(RoomRecord)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr), Call::Room{std::move(roomId), std::move(done), {}}});
}

void SqliteHistoryStore::endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs,
                                 qint64 refuseJoinsUntilMs, QObject *context, std::function<void(bool)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr),
             Call::End{std::move(roomId), endedAtMs, std::move(endedBy), retainUntilMs, refuseJoinsUntilMs,
                       std::move(done), false}});
}

void SqliteHistoryStore::deleteRoom(QString roomId, QObject *context, std::function<void(bool)> done)
{
    enqueue({m_dispatcher.track(done ? context : nullptr), Call::Delete{std::move(roomId), std::move(done), false}});
}

void SqliteHistoryStore::prune()
{
    enqueue({nullptr, Call::Prune{}});
}

StoreStats SqliteHistoryStore::stats() const
{
    StoreStats s;
    s.backend = u"sqlite"_s;
    s.encrypted = true;
    s.queued = m_queued.load(std::memory_order_relaxed);
    s.appended = m_appended.load(std::memory_order_relaxed);
    s.failedWrites = m_failedWrites.load(std::memory_order_relaxed);
    s.rooms = m_roomsHeld.load(std::memory_order_relaxed);
    s.degraded = m_degraded.load(std::memory_order_relaxed);
    return s;
}

bool SqliteHistoryStore::flush(int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    const quint64 target = m_submitted;
    if (m_completed >= target)
        return true;
    // Whoever waits here should not also wait for a batch to gather.
    m_flushUpTo = std::max(m_flushUpTo, target);
    if (m_waiting == Waiting::MoreWork)
        m_wake.notify_one();
    return m_progress.wait_for(lock, std::chrono::milliseconds(std::max(0, timeoutMs)),
                               [&] { return m_completed >= target; });
}

void SqliteHistoryStore::run(std::unique_ptr<HistoryCipher> cipher, std::promise<QString> *opened)
{
    pthread_setname_np(pthread_self(), "history-store"); // at most 15 characters
    QString error;
    std::unique_ptr<SqliteHistoryDatabase> db = SqliteHistoryDatabase::open(
        m_options.dataDir, std::move(cipher),
        {m_options.limits, m_options.dedupWindow, m_options.clock}, &error);
    if (db)
        m_roomsHeld.store(db->roomsWithMessages(), std::memory_order_relaxed);
    opened->set_value(error);
    if (!db)
        return;

    using Clock = std::chrono::steady_clock;
    const auto interval = std::chrono::milliseconds(m_options.pruneIntervalMs);
    auto nextPrune = m_options.pruneIntervalMs > 0 ? Clock::now() + interval : Clock::time_point::max();
    Clock::time_point lastStart; // of the last batch: long ago
    std::deque<Call> batch;
    while (takeBatch(batch, nextPrune, lastStart)) {
        lastStart = Clock::now();
        const bool pruneDue = lastStart >= nextPrune;
        if (pruneDue)
            nextPrune = lastStart + interval;
        if (batch.empty() && !pruneDue)
            continue;
        runBatch(*db, batch, pruneDue);
        {
            std::lock_guard lock(m_mutex);
            m_completed += batch.size();
        }
        m_progress.notify_all();
        batch.clear();
    }
    db.reset(); // closes the connection on the thread that used it
}

bool SqliteHistoryStore::takeBatch(std::deque<Call> &batch, std::chrono::steady_clock::time_point nextPrune,
                                   std::chrono::steady_clock::time_point lastStart)
{
    using Clock = std::chrono::steady_clock;
    std::unique_lock lock(m_mutex);
    while (m_queue.empty() && !m_stopping) {
        m_waiting = Waiting::Work;
        bool timedOut = false;
        if (nextPrune == Clock::time_point::max())
            m_wake.wait(lock);
        else
            timedOut = m_wake.wait_until(lock, nextPrune) == std::cv_status::timeout;
        m_waiting = Waiting::Nothing;
        if (timedOut)
            return true; // a prune is due: an empty batch
    }
    if (m_queue.empty())
        return false; // stopping, and nothing left
    // Gather: the calls that arrive before the interval is up share this
    // batch's commit. Flush and the destructor want the work done now.
    const auto due = lastStart + std::chrono::microseconds(std::max(0, m_options.batchIntervalUs));
    auto gathering = [&] {
        return !m_stopping && m_flushUpTo <= m_completed && qint64(m_queue.size()) < m_options.batchTarget
            && Clock::now() < due && Clock::now() < nextPrune;
    };
    while (gathering()) {
        m_waiting = Waiting::MoreWork;
        m_wake.wait_until(lock, std::min(due, nextPrune));
        m_waiting = Waiting::Nothing;
    }
    batch.swap(m_queue);
    m_queued.store(0, std::memory_order_relaxed);
    return true;
}

void SqliteHistoryStore::runBatch(SqliteHistoryDatabase &db, std::deque<Call> &batch, bool pruneDue)
{
    if (m_options.beforeBatch)
        m_options.beforeBatch();

    bool pruned = pruneDue;
    qint64 stored = 0;
    qint64 refusedHere = 0; // soft failures: bad input, encryption
    bool ok = db.begin();
    if (ok) {
        for (Call &call : batch) {
            std::visit(Overloaded{
                           [&](Call::Append &c) {
                               if (c.refused) {
                                   c.result.error = u"history store is overloaded (%1 calls queued); not stored"_s.arg(
                                       m_options.maxQueued);
                                   return;
                               }
                               c.result = db.append(c.request);
                               if (c.result.ok && !c.result.duplicate)
                                   ++stored;
                               else if (!c.result.ok)
                                   ++refusedHere;
                           },
                           [&](Call::Read &c) { c.result = db.read(c.request); },
                           [&](Call::TakeSnapshot &c) { c.result = db.snapshot(c.request); },
                           [&](Call::Room &c) { c.result = db.room(c.roomId); },
                           [&](Call::End &c) {
                               c.result = db.endRoom(c.roomId, c.endedAtMs, c.endedBy, c.retainUntilMs,
                                                     c.refuseJoinsUntilMs);
                           },
                           [&](Call::Delete &c) { c.result = db.deleteRoom(c.roomId); },
                           [&](Call::Prune &) {
                               db.prune();
                               pruned = true;
                           },
                       },
                       call.op);
            if (db.failed())
                break;
        }
        if (pruneDue && !db.failed())
            db.prune();
        ok = !db.failed() && db.commit();
    }

    if (ok) {
        if (m_options.afterCommit)
            m_options.afterCommit(qsizetype(batch.size()));
        m_appended.fetch_add(stored, std::memory_order_relaxed);
        m_failedWrites.fetch_add(refusedHere, std::memory_order_relaxed);
        if (m_degraded.exchange(false, std::memory_order_relaxed))
            qCInfo(lcStore, "history store: writing again");
        if (pruned)
            m_roomsHeld.store(db.roomsWithMessages(), std::memory_order_relaxed);
    } else {
        const QString why = db.failure().isEmpty() ? u"unknown error"_s : db.failure();
        db.rollback();
        db.clearFailure();
        const QString error = u"history write failed: %1"_s.arg(why);
        qint64 failedAppends = 0;
        for (Call &call : batch) {
            std::visit(Overloaded{
                           [&](Call::Append &c) {
                               if (!c.refused) {
                                   c.result = AppendResult{};
                                   c.result.error = error;
                                   ++failedAppends;
                               }
                           },
                           [&](Call::Read &c) {
                               c.result = ReadResult{};
                               c.result.error = error;
                           },
                           [&](Call::TakeSnapshot &c) {
                               c.result = Snapshot{};
                               c.result.error = error;
                           },
                           [&](Call::Room &c) {
                               c.result = RoomRecord{};
                               c.result.error = error;
                           },
                           [&](Call::End &c) { c.result = false; },
                           [&](Call::Delete &c) { c.result = false; },
                           [&](Call::Prune &) {},
                       },
                       call.op);
        }
        m_failedWrites.fetch_add(failedAppends, std::memory_order_relaxed);
        if (!m_degraded.exchange(true, std::memory_order_relaxed))
            qCWarning(lcStore, "history store: a batch of %lld calls failed and was rolled back: %s",
                      qlonglong(batch.size()), qUtf8Printable(why));
    }

    std::vector<CallbackDispatcher::Delivery> deliveries;
    deliveries.reserve(batch.size());
    for (Call &call : batch) {
        if (!call.target)
            continue;
        std::visit(Overloaded{
                       [&](Call::Prune &) {},
                       [&](auto &c) {
                           deliveries.push_back({call.target, [done = std::move(c.done), r = std::move(c.result)] {
                                                     done(r);
                                                 }});
                       },
                   },
                   call.op);
    }
    m_dispatcher.post(std::move(deliveries));
}

} // namespace medrelay::store
