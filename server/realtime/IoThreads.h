#pragma once
// Extra threads that carry ws:// sockets (--io-threads N). Each runs its own
// event loop and EpollPoller and owns the sockets handed to it: reading,
// framing and the sendmsg() calls, which are most of the work per delivery,
// spread over the cores. Rooms, identities and message handling stay on the
// main thread; ThreadedClientSocket is a Connection's handle on a socket in
// a worker, and the only thing that crosses threads.

#include "realtime/ClientSocket.h"
#include "transport/WebSocketConnection.h"

#include <QMutex>
#include <QObject>

#include <atomic>
#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace medrelay::server {

// Lives on the main thread and carries a worker socket's signals there. Kept
// alive by its SocketSlot, so the worker never signals a deleted object even
// when the ThreadedClientSocket goes away first.
class SocketSignals final : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

Q_SIGNALS:
    void messageReceived(const QByteArray &utf8);
    void controlReceived(medrelay::transport::Opcode opcode, const QByteArray &payload);
    void disconnected();
};

// What a ThreadedClientSocket (main thread) and its worker share; freed by
// whichever lets go last.
struct SocketSlot
{
    SocketSlot() : relay(new SocketSignals) {}
    ~SocketSlot() { relay->deleteLater(); } // from either thread: deleted on the main thread
    Q_DISABLE_COPY_MOVE(SocketSlot)

    SocketSignals *relay = nullptr;
    transport::WebSocketConnection *connection = nullptr; // worker thread only
    std::atomic<qint64> transportQueued{0}; // the connection's backlog at the last drain
    std::atomic<int> closeCode{0};
};

class IoWorker final : public QObject
{
    Q_OBJECT
public:
    IoWorker() = default;
    ~IoWorker() override;
    Q_DISABLE_COPY_MOVE(IoWorker)

    // In the worker's thread, before anything else.
    void start();
    [[nodiscard]] transport::EpollPoller *poller() const { return m_poller; }

    // Any thread: queues a frame for a socket; the worker writes it soon.
    void post(const std::shared_ptr<SocketSlot> &slot, const QByteArray &frame);

private:
    void drain();

    transport::EpollPoller *m_poller = nullptr;
    QMutex m_mutex; // guards what follows
    std::vector<std::pair<std::shared_ptr<SocketSlot>, QByteArray>> m_outbox;
    bool m_wakePending = false;
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

private:
    std::vector<QThread *> m_threads;
    std::vector<IoWorker *> m_workers;
    std::size_t m_next = 0;
};

// A Connection's handle (main thread) on a socket carried by an IoWorker.
class ThreadedClientSocket final : public ClientSocket
{
    Q_OBJECT
public:
    // Hands `fd` to `worker`, which makes the WebSocketConnection there and
    // writes `handshakeResponse` first.
    ThreadedClientSocket(IoWorker *worker, int fd, const QByteArray &early, const transport::ConnectionLimits &limits,
                         const QByteArray &handshakeResponse, QHostAddress peer, QUrl requestUrl,
                         QObject *parent = nullptr);
    ~ThreadedClientSocket() override;
    Q_DISABLE_COPY_MOVE(ThreadedClientSocket)

    void sendText(const OutboundMessage &message) override;
    [[nodiscard]] qint64 bytesQueued() const override;
    void ping(const QByteArray &payload) override;
    void close(int code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override { return m_peer; }
    [[nodiscard]] QUrl requestUrl() const override { return m_requestUrl; }
    [[nodiscard]] int closeCode() const override { return m_slot->closeCode.load(); }

private:
    template<typename Fn>
    void inWorker(Fn fn);

    IoWorker *m_worker = nullptr;
    std::shared_ptr<SocketSlot> m_slot;
    QHostAddress m_peer;
    QUrl m_requestUrl;
};

} // namespace medrelay::server
