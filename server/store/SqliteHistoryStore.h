#pragma once
// The HistoryStore kept in SQLite (<dataDir>/history.db, through Qt SQL's
// QSQLITE driver), encrypted with HistoryCipher: what survives a restart.
//
// It never blocks its callers. Each call is queued for the store's own
// thread, which owns the database connection. That thread takes everything
// queued, runs it as one transaction (group commit: one WAL sync per batch,
// synchronous=FULL, so a completed call survives kill -9 and power loss),
// then posts the callbacks to each context's thread in call order. Reads in a
// batch see the appends queued before them.
//
// While calls keep coming, batches start at most every batchIntervalUs: a
// call that arrives sooner waits for the next batch (at most that long, and
// not at all once batchTarget calls wait, or when flush() or the destructor
// asks), so that a moderate load pays one commit and one sync per batch
// instead of one per call. A call that finds the store idle for longer
// starts its batch at once.
//
// Back-pressure: when more than maxQueued calls wait, further appends are
// refused at once (their callbacks still run in call order, with an error,
// carrying none of the refused body) and counted in stats().failedWrites.
// A batch that fails (disk full, I/O error) is rolled back as a whole; every
// call in it fails, no seq is used, and stats().degraded stays set until a
// batch commits again.
//
// The store's thread also prunes (age bound, expired retention, expired join
// refusals) every pruneIntervalMs. The destructor finishes everything queued,
// then closes the database.

#include "store/CallbackDispatcher.h"
#include "store/HistoryCipher.h"
#include "store/HistoryStore.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace medrelay::store {

class SqliteHistoryDatabase;

class SqliteHistoryStore final : public HistoryStore
{
public:
    struct Options
    {
        QString dataDir;
        StoreLimits limits;
        int dedupWindow = 256;
        qint64 maxQueued = 100'000;
        int pruneIntervalMs = 60'000;
        int batchIntervalUs = 1000; // least time between the starts of two batches; 0: none
        int batchTarget = 512;      // calls waiting that start a batch at once
        std::function<qint64()> clock; // ms since the epoch; empty: the system clock
        // Runs on the store's thread before each batch. For tests that need
        // the thread to fall behind; leave empty.
        std::function<void()> beforeBatch;
        // Runs on the store's thread after each batch commits, before its
        // callbacks are posted, with the number of calls in it. For tests
        // that follow the commits; leave empty.
        std::function<void(qsizetype calls)> afterCommit;
    };

    struct Opened
    {
        std::unique_ptr<SqliteHistoryStore> store;
        QString error; // when store is null: why, fit for a start-up refusal
    };

    // Opens (or creates) the database on the store's thread and waits for the
    // outcome: a wrong key, a database in use by another process, a directory
    // that cannot be created are refused here, with the reason.
    [[nodiscard]] static Opened open(Options options, std::unique_ptr<HistoryCipher> cipher);

    ~SqliteHistoryStore() override;
    Q_DISABLE_COPY_MOVE(SqliteHistoryStore)

    void append(AppendRequest request, QObject *context, std::function<void(AppendResult)> done) override;
    void read(ReadRequest request, QObject *context, std::function<void(ReadResult)> done) override;
    void snapshot(SnapshotRequest request, QObject *context, std::function<void(Snapshot)> done) override;
    void room(QString roomId, QObject *context, std::function<void(RoomRecord)> done) override;
    void endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs, qint64 refuseJoinsUntilMs,
                 QObject *context, std::function<void(bool ok)> done) override;
    void deleteRoom(QString roomId, QObject *context, std::function<void(bool ok)> done) override;

    [[nodiscard]] StoreStats stats() const override;
    bool flush(int timeoutMs) override;

    // Queues a prune now (it also runs every pruneIntervalMs on its own).
    void prune();

    [[nodiscard]] QString filePath() const { return m_filePath; }

private:
    struct Call;
    explicit SqliteHistoryStore(Options options);
    // What the store's thread is waiting for, so that enqueue() wakes it
    // only when that has come.
    enum class Waiting : quint8 { Nothing, Work, MoreWork };

    void enqueue(Call call);
    void run(std::unique_ptr<HistoryCipher> cipher, std::promise<QString> *opened);
    // Waits for calls (or a due prune) and takes the next batch; false when
    // stopping with nothing left.
    bool takeBatch(std::deque<Call> &batch, std::chrono::steady_clock::time_point nextPrune,
                   std::chrono::steady_clock::time_point lastStart);
    void runBatch(SqliteHistoryDatabase &db, std::deque<Call> &batch, bool pruneDue);

    Options m_options;
    QString m_filePath;
    CallbackDispatcher m_dispatcher;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;     // the store's thread: work queued, or stopping
    std::condition_variable m_progress; // flush(): a batch finished
    std::deque<Call> m_queue;
    quint64 m_submitted = 0; // calls queued since start
    quint64 m_completed = 0; // of those, done (callbacks posted)
    quint64 m_flushUpTo = 0; // flush() waits for the calls up to here: no gathering
    bool m_stopping = false;
    Waiting m_waiting = Waiting::Nothing;
    std::thread m_thread;

    std::atomic<qint64> m_queued{0};
    std::atomic<qint64> m_appended{0};
    std::atomic<qint64> m_failedWrites{0};
    std::atomic<qint64> m_roomsHeld{0};
    std::atomic<bool> m_degraded{false};
};

} // namespace medrelay::store
