#pragma once
// The HistoryStore kept in Redis, shared by every instance of a cluster: a
// room's seq counter, its messages (a stream with the entry id <seq>-0), its
// deduplication tags and its end record live in Redis, so a client resumes
// on any instance with nothing lost or repeated, and a retried message is
// recognised whichever instance it reaches. Same contract as the other
// stores (HistoryStore.h); the layout is in docs/STORAGE.md.
//
// Bodies are sealed with HistoryCipher exactly as the SQLite store seals them
// (AES-256-GCM bound to room, seq and class) and deduplication keys become
// keyed tags, so Redis (and its AOF/RDB files) holds no readable message.
// Without a key (development only) bodies are stored as they are.
//
// Each append is one Lua script: check the tag, take the next seq, store,
// trim by count and age, and optionally PUBLISH the stored message, all
// atomic. Since the record is sealed for its seq before it is sent, the
// script is told the seq the store expects; when another instance took it
// meanwhile, the script answers with the counter and the store seals again
// and retries. Calls for one room run one after another; rooms run in
// parallel on one connection. Callbacks are released in call order.
//
// Threads: the store owns a thread with its own event loop and Redis
// connection; calls never block the caller. While Redis cannot be reached
// calls fail at once ("history store unavailable"); a call whose reply was
// lost with the connection fails too (it may have been applied: a retried
// append with its deduplication key gets the original seq).

#include "cluster/RedisUrl.h"
#include "store/CallbackDispatcher.h"
#include "store/HistoryCipher.h"
#include "store/HistoryStore.h"

#include <QThread>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace medrelay::cluster {

class RedisHistoryStore final : public store::HistoryStore
{
public:
    struct Options
    {
        RedisUrl url;
        store::StoreLimits limits;
        int dedupWindow = 256;
        qint64 maxQueued = 100'000;
        int pruneIntervalMs = 60'000; // 0: only when prune() is called
        int startupWaitMs = 3000;     // open() waits this long for Redis
        int connectTimeoutMs = 3000;
        int pingTimeoutMs = 3000;
        std::function<qint64()> clock; // ms since the epoch; empty: the system clock
    };

    struct Opened
    {
        std::unique_ptr<RedisHistoryStore> store;
        QString error;   // when store is null: one line for a start-up refusal
        QString warning; // opened, but Redis was not reachable yet
    };

    // Starts the store's thread and waits up to startupWaitMs for Redis and
    // the key check: a history written with another key (or without one, or
    // with one when none is given) is refused here. A Redis that cannot be
    // reached yet is not a refusal: the store keeps trying.
    [[nodiscard]] static Opened open(Options options, std::unique_ptr<store::HistoryCipher> cipher);

    ~RedisHistoryStore() override;
    Q_DISABLE_COPY_MOVE(RedisHistoryStore)

    // What an append publishes once stored, in the same atomic step:
    // `payload(seq, record)` on `channel`, where `record` is the body as
    // stored (sealed for that seq when a key is configured). Runs on the
    // store's thread.
    struct Publication
    {
        QByteArray channel;
        std::function<QByteArray(qint64 seq, const QByteArray &record)> payload;
    };
    void appendAndPublish(store::AppendRequest request, Publication publication, QObject *context,
                          std::function<void(store::AppendResult)> done);
    // A message numbered already (by an instance that served its room alone
    // while Redis was out of reach): stored as number `seq` only if the
    // room's numbering stands at seq - 1; else nothing is stored and the
    // result has `conflict` set and `seq` the room's last number. A
    // duplicate (the same deduplication key within the window) is reported
    // as for any append, with the original's number.
    void appendAtAndPublish(store::AppendRequest request, qint64 seq, Publication publication, QObject *context,
                            std::function<void(store::AppendResult)> done);

    void append(store::AppendRequest request, QObject *context, std::function<void(store::AppendResult)> done) override;
    void read(store::ReadRequest request, QObject *context, std::function<void(store::ReadResult)> done) override;
    void snapshot(store::SnapshotRequest request, QObject *context, std::function<void(store::Snapshot)> done) override;
    void room(QString roomId, QObject *context, std::function<void(store::RoomRecord)> done) override;
    void endRoom(QString roomId, qint64 endedAtMs, QString endedBy, qint64 retainUntilMs, qint64 refuseJoinsUntilMs,
                 QObject *context, std::function<void(bool ok)> done) override;
    void deleteRoom(QString roomId, QObject *context, std::function<void(bool ok)> done) override;

    [[nodiscard]] store::StoreStats stats() const override;
    bool flush(int timeoutMs) override;

    // Expired join refusals and retention, and rooms wholly past the age
    // bound; also runs every pruneIntervalMs. Later calls see its effect.
    void prune();

    [[nodiscard]] const RedisUrl &url() const { return m_options.url; }
    // Connected and the key checked: calls can succeed.
    [[nodiscard]] bool isAvailable() const { return m_available.load(std::memory_order_relaxed); }
    // `changed` runs on `context`'s thread each time isAvailable() changes.
    // One listener; null context to stop (before the context goes).
    void setAvailabilityListener(QObject *context, std::function<void()> changed);

private:
    struct Op;
    class Worker;
    friend class Worker;

    explicit RedisHistoryStore(Options options);
    void submit(Op op);
    // exactSeq 0: the next number; else that number or none (appendAtAndPublish).
    void submitAppend(store::AppendRequest request, qint64 exactSeq, Publication publication, QObject *context,
                      std::function<void(store::AppendResult)> done);
    // The worker's outcome of the key check, and each op's release.
    void noteChecked(const QString &fatal);
    void noteReleased(quint64 released);
    // The worker's connection state; tells the listener when it changes.
    void setAvailable(bool available);

    Options m_options;
    bool m_encrypted = false;
    store::CallbackDispatcher m_dispatcher;
    QThread m_thread;
    Worker *m_worker = nullptr;

    mutable std::mutex m_mutex;
    std::condition_variable m_progress;
    std::unique_ptr<std::deque<Op>> m_inbox; // guarded by m_mutex; the worker drains it
    bool m_wakePosted = false;
    quint64 m_submitted = 0;
    quint64 m_released = 0;
    bool m_checked = false;
    QString m_fatal;

    std::atomic<bool> m_available{false};
    QObject *m_listenerContext = nullptr;     // guarded by m_mutex
    std::function<void()> m_listener;          // guarded by m_mutex
    std::atomic<qint64> m_appended{0};
    std::atomic<qint64> m_failedWrites{0};
    std::atomic<qint64> m_roomsHeld{0};
};

} // namespace medrelay::cluster
