#pragma once
// Extra threads that carry lean-transport sockets (--io-threads N), plain
// or TLS. Each runs its own event loop and EpollPoller and owns the sockets
// handed to it: reading, framing, encryption and the sendmsg() calls, which
// are most of the work per delivery, spread over the cores. Rooms,
// identities and message handling stay on the main thread;
// ThreadedClientSocket is a Connection's handle on a socket in a worker, and
// the only thing that crosses threads.
//
// Both directions travel in batches, so the cost of crossing threads (a
// lock, a wake-up) is paid per batch, not per message or per recipient:
// - In: what a worker's sockets receive during one epoll dispatch (messages,
//   control frames, disconnections, in order) goes to the main thread as one
//   batch; woken, the main thread takes every worker's batch and handles
//   them all as one IoThreads::Batch.
// - Out: frames for a worker are staged on the main thread without a lock
//   and handed over when the outermost Batch ends, one hand-over per worker
//   however many messages the batch held and however many of the worker's
//   sockets each went to. The worker writes them corked: one sendmsg() per
//   socket per hand-over.
// Under load both batches grow by themselves, so the crossings per message
// fall as the rate rises. A frame counts against its client's send-queue
// cap from the moment it is staged, so a slow reader is bounded however far
// behind its worker is.

#include "realtime/ClientSocket.h"
#include "transport/EpollPoller.h"
#include "transport/Stream.h"
#include "transport/WebSocketConnection.h"

#include <QMutex>
#include <QObject>

#include <atomic>
#include <iterator>
#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace medrelay::server {

class ThreadedClientSocket;

// What a ThreadedClientSocket (main thread) and its worker share; freed by
// whichever lets go last.
struct SocketSlot
{
    ThreadedClientSocket *owner = nullptr;                // main thread only; null once it is gone
    transport::WebSocketConnection *connection = nullptr; // worker thread only
    std::atomic<qint64> transportQueued{0}; // the connection's backlog (it keeps this current)
    std::atomic<qint64> inFlight{0};        // staged or in the worker's outbox, not yet queued
    std::atomic<int> closeCode{0};
};

class IoThreads;

// Batches from one thread to another, in both directions between a worker
// and the main thread: the sender moves a batch in and learns whether the
// receiver must be woken (no wake-up is pending); the receiver takes all
// there is, which makes the next batch wake it again.
template<typename T>
class Mailbox
{
public:
    // Empties `batch` into the box; true when the receiver needs a wake-up.
    [[nodiscard]] bool put(std::vector<T> &batch)
    {
        QMutexLocker lock(&m_mutex);
        if (m_items.empty()) {
            m_items.swap(batch);
        } else {
            std::move(batch.begin(), batch.end(), std::back_inserter(m_items));
            batch.clear();
        }
        if (m_wakePending)
            return false;
        m_wakePending = true;
        return true;
    }
    [[nodiscard]] std::vector<T> take()
    {
        std::vector<T> all;
        QMutexLocker lock(&m_mutex);
        all.swap(m_items);
        m_wakePending = false;
        return all;
    }

private:
    QMutex m_mutex;
    std::vector<T> m_items;
    bool m_wakePending = false;
};

class IoWorker final : public QObject, private transport::EpollPoller::Handler
{
    Q_OBJECT
public:
    // What a socket of this worker received, for the main thread.
    struct Inbound
    {
        enum class Kind : quint8 { Message, Control, Disconnected };
        std::shared_ptr<SocketSlot> slot;
        QByteArray payload;
        Kind kind = Kind::Message;
        transport::Opcode opcode = transport::Opcode::Text;
    };

    explicit IoWorker(IoThreads &threads);
    ~IoWorker() override;
    Q_DISABLE_COPY_MOVE(IoWorker)

    // In the worker's thread, before anything else.
    void start();
    [[nodiscard]] transport::EpollPoller *poller() const { return m_poller; }
    [[nodiscard]] IoThreads &threads() const { return m_threads; }

    // Main thread: stages a frame for one of this worker's sockets. A fan-out
    // staging the same frame for several sockets in a row makes one group.
    void stage(const std::shared_ptr<SocketSlot> &slot, const QByteArray &frame);
    // Main thread: hands what is staged to the worker in one batch.
    void handOver();
    // Batches handed over so far (each one lock and at most one wake-up).
    [[nodiscard]] quint64 batchesHandedOver() const { return m_handOvers; }

    // Worker thread: queues what a socket received; it leaves for the main
    // thread with everything else received in the same dispatch.
    void received(Inbound item);
    // Main thread: takes what has arrived.
    [[nodiscard]] std::vector<Inbound> takeReceived();

private:
    // Frames for the worker: each frame once, with the sockets it goes to.
    // Plain pointers (no reference count touched per recipient on two
    // threads): a slot outlives every frame staged for it, because its
    // handle hands what is staged over before it posts its last call to the
    // worker (ThreadedClientSocket::inWorker), which holds the slot, and the
    // worker takes a hand-over before any call posted after it.
    struct Group
    {
        QByteArray frame;
        std::vector<SocketSlot *> sockets;
    };
    void drain();
    // End of the dispatch in which something was received (worker thread).
    void epollEvents(quint32) override {}
    void flushDeferred() override;

    IoThreads &m_threads;
    transport::EpollPoller *m_poller = nullptr;
    std::vector<Group> m_staged; // main thread only
    quint64 m_handOvers = 0;     // main thread only
    Mailbox<Group> m_outbox;     // main thread -> worker

    std::vector<Inbound> m_received; // worker thread only, this dispatch's
    Mailbox<Inbound> m_inbox;        // worker -> main thread
};

class IoThreads final : public QObject
{
    Q_OBJECT
public:
    explicit IoThreads(int count, QObject *parent = nullptr);
    ~IoThreads() override;
    Q_DISABLE_COPY_MOVE(IoThreads)

    // Round robin over the workers.
    [[nodiscard]] IoWorker *next();
    [[nodiscard]] int count() const { return static_cast<int>(m_workers.size()); }
    [[nodiscard]] IoWorker *worker(int index) const { return m_workers.at(static_cast<std::size_t>(index)); }

    // Main thread. While a Batch lives (the handling of one incoming
    // message), staged frames wait; when the outermost one ends, every
    // worker with frames gets them in one batch. Frames staged outside a
    // Batch (timers, admin actions) are handed over in the next turn of the
    // event loop.
    class Batch
    {
    public:
        explicit Batch(IoThreads &threads) : m_threads(threads) { ++m_threads.m_depth; }
        ~Batch()
        {
            if (--m_threads.m_depth == 0)
                m_threads.handOver();
        }
        Q_DISABLE_COPY_MOVE(Batch)

    private:
        IoThreads &m_threads;
    };

    // Main thread: a worker has frames staged.
    void staged(IoWorker *worker);
    // Main thread: every worker with frames staged gets them now.
    void handOver();
    // Main thread: handles what every worker has received, as one Batch.
    void receive();

private:
    std::vector<QThread *> m_threads;
    std::vector<IoWorker *> m_workers;
    std::vector<IoWorker *> m_dirty; // workers with frames staged
    std::size_t m_next = 0;
    int m_depth = 0;
    bool m_handOverScheduled = false;
};

// A Connection's handle (main thread) on a socket carried by an IoWorker.
class ThreadedClientSocket final : public ClientSocket
{
    Q_OBJECT
public:
    // Hands `stream` to `worker`, which makes the WebSocketConnection there
    // and writes `handshakeResponse` first.
    ThreadedClientSocket(IoWorker *worker, transport::Stream stream, const QByteArray &early,
                         const transport::ConnectionLimits &limits, const QByteArray &handshakeResponse,
                         QHostAddress peer, RequestTarget target, QObject *parent = nullptr);
    ~ThreadedClientSocket() override;
    Q_DISABLE_COPY_MOVE(ThreadedClientSocket)

    void sendText(const OutboundMessage &message) override;
    [[nodiscard]] qint64 bytesQueued() const override;
    void ping(const QByteArray &payload) override;
    void close(int code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override { return m_peer; }
    [[nodiscard]] QUrl requestUrl() const override { return m_target.url(); }
    [[nodiscard]] int closeCode() const override { return m_slot->closeCode.load(); }

    // Main thread (IoThreads::receive): what the worker received for it.
    void handle(const IoWorker::Inbound &item);

private:
    template<typename Fn>
    void inWorker(Fn fn);

    IoWorker *m_worker = nullptr;
    std::shared_ptr<SocketSlot> m_slot;
    QHostAddress m_peer;
    RequestTarget m_target;
};

} // namespace medrelay::server
