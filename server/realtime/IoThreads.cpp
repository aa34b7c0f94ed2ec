#include "realtime/IoThreads.h"

#include "transport/EpollPoller.h"

#include <QThread>

namespace medrelay::server {

using namespace Qt::StringLiterals;

IoWorker::~IoWorker() = default;

void IoWorker::start()
{
    m_poller = new transport::EpollPoller(this);
}

void IoWorker::post(const std::shared_ptr<SocketSlot> &slot, const QByteArray &frame)
{
    bool wake = false;
    {
        QMutexLocker lock(&m_mutex);
        m_outbox.emplace_back(slot, frame);
        if (!m_wakePending) {
            m_wakePending = true;
            wake = true;
        }
    }
    // One wake-up per batch, however many frames it carries.
    if (wake)
        QMetaObject::invokeMethod(this, &IoWorker::drain, Qt::QueuedConnection);
}

void IoWorker::drain()
{
    std::vector<std::pair<std::shared_ptr<SocketSlot>, QByteArray>> batch;
    {
        QMutexLocker lock(&m_mutex);
        batch.swap(m_outbox);
        m_wakePending = false;
    }
    for (auto &[slot, frame] : batch) {
        if (slot->connection) {
            slot->connection->sendFrame(frame);
            slot->transportQueued.store(slot->connection->bytesQueued(), std::memory_order_relaxed);
        }
    }
}

IoThreads::IoThreads(int count, QObject *parent)
    : QObject(parent)
{
    for (int i = 0; i < count; ++i) {
        auto *thread = new QThread;
        thread->setObjectName(u"medrelay-io-%1"_s.arg(i));
        auto *worker = new IoWorker;
        worker->moveToThread(thread);
        connect(thread, &QThread::finished, worker, &QObject::deleteLater);
        thread->start();
        QMetaObject::invokeMethod(worker, &IoWorker::start, Qt::BlockingQueuedConnection);
        m_threads.push_back(thread);
        m_workers.push_back(worker);
    }
}

IoThreads::~IoThreads()
{
    for (QThread *t : m_threads) {
        t->quit();
        t->wait();
        delete t;
    }
}

IoWorker *IoThreads::next()
{
    IoWorker *w = m_workers[m_next];
    m_next = (m_next + 1) % m_workers.size();
    return w;
}

ThreadedClientSocket::ThreadedClientSocket(IoWorker *worker, int fd, const QByteArray &early,
                                           const transport::ConnectionLimits &limits,
                                           const QByteArray &handshakeResponse, QHostAddress peer, QUrl requestUrl,
                                           QObject *parent)
    : ClientSocket(parent)
    , m_worker(worker)
    , m_slot(std::make_shared<SocketSlot>())
    , m_peer(std::move(peer))
    , m_requestUrl(std::move(requestUrl))
{
    SocketSignals *relay = m_slot->relay;
    connect(relay, &SocketSignals::messageReceived, this, &ClientSocket::messageReceived);
    connect(relay, &SocketSignals::controlReceived, this, &ClientSocket::controlReceived);
    connect(relay, &SocketSignals::disconnected, this, &ClientSocket::disconnected);
    QMetaObject::invokeMethod(worker, [worker, slot = m_slot, fd, early, limits, handshakeResponse] {
        // A child of the worker, so a stopping thread takes its sockets along.
        auto *c = new transport::WebSocketConnection(*worker->poller(), fd, early, limits, worker);
        slot->connection = c;
        c->sendFrame(handshakeResponse);
        // Runs first, in the worker: record how it ended, then let go.
        QObject::connect(c, &transport::WebSocketConnection::disconnected, c, [slot, c] {
            slot->closeCode.store(c->closeCode());
            slot->connection = nullptr;
            c->deleteLater();
        });
        // Queued to the main thread, where the relay lives.
        SocketSignals *r = slot->relay;
        QObject::connect(c, &transport::WebSocketConnection::textReceived, r, &SocketSignals::messageReceived);
        QObject::connect(c, &transport::WebSocketConnection::binaryReceived, r, &SocketSignals::messageReceived);
        QObject::connect(c, &transport::WebSocketConnection::controlReceived, r, &SocketSignals::controlReceived);
        QObject::connect(c, &transport::WebSocketConnection::disconnected, r, &SocketSignals::disconnected);
    }, Qt::QueuedConnection);
}

ThreadedClientSocket::~ThreadedClientSocket()
{
    inWorker([](transport::WebSocketConnection *c) { c->abort(); });
}

template<typename Fn>
void ThreadedClientSocket::inWorker(Fn fn)
{
    QMetaObject::invokeMethod(m_worker, [slot = m_slot, fn] {
        if (slot->connection)
            fn(slot->connection);
    }, Qt::QueuedConnection);
}

void ThreadedClientSocket::sendText(const OutboundMessage &message)
{
    // The frame is made here, once, and shared with the worker (QByteArray's
    // reference count is atomic).
    m_worker->post(m_slot, message.wsFrame());
}

qint64 ThreadedClientSocket::bytesQueued() const
{
    // The client's own backlog in the worker. Frames still on their way to
    // the worker are not the client's slowness and do not count.
    return m_slot->transportQueued.load(std::memory_order_relaxed);
}

void ThreadedClientSocket::ping(const QByteArray &payload)
{
    inWorker([payload](transport::WebSocketConnection *c) { c->ping(payload); });
}

void ThreadedClientSocket::close(int code, const QString &reason)
{
    inWorker([code, reason](transport::WebSocketConnection *c) { c->close(static_cast<quint16>(code), reason); });
}

void ThreadedClientSocket::abort()
{
    inWorker([](transport::WebSocketConnection *c) { c->abort(); });
}

} // namespace medrelay::server
