#include "realtime/IoThreads.h"

#include "transport/EpollPoller.h"

#include <QThread>

namespace medrelay::server {

using namespace Qt::StringLiterals;

IoWorker::IoWorker(IoThreads &threads)
    : m_threads(threads)
{
}

IoWorker::~IoWorker()
{
    // Runs in the worker's thread as it ends (deleteLater on finished): its
    // sockets go first, then their poller, then OpenSSL's state for this thread.
    const QObjectList kids = children();
    for (QObject *child : kids) {
        if (child != m_poller)
            delete child;
    }
    delete m_poller;
    transport::Stream::releaseThreadState();
}

void IoWorker::start()
{
    m_poller = new transport::EpollPoller(this);
}

void IoWorker::stage(const std::shared_ptr<SocketSlot> &slot, const QByteArray &frame)
{
    slot->inFlight.fetch_add(frame.size(), std::memory_order_relaxed);
    // The same bytes (a fan-out) extend the last group: the frame is
    // referenced once per worker, not once per recipient.
    if (!m_staged.empty() && m_staged.back().frame.constData() == frame.constData()
        && m_staged.back().frame.size() == frame.size()) {
        m_staged.back().sockets.push_back(slot.get());
        return;
    }
    if (m_staged.empty())
        m_threads.staged(this);
    m_staged.push_back(Group{frame, {slot.get()}});
}

void IoWorker::handOver()
{
    if (m_staged.empty())
        return;
    ++m_handOvers;
    // One wake-up for everything handed over until the worker drains.
    if (m_outbox.put(m_staged))
        QMetaObject::invokeMethod(this, &IoWorker::drain, Qt::QueuedConnection);
}

void IoWorker::drain()
{
    const std::vector<Group> batch = m_outbox.take();
    // Every socket this batch writes to is flushed once, when it is done.
    transport::EpollPoller::Cork cork(*m_poller);
    for (const Group &group : batch) {
        const qint64 size = group.frame.size();
        for (SocketSlot *slot : group.sockets) {
            if (transport::WebSocketConnection *c = slot->connection)
                c->sendFrame(group.frame);
            slot->inFlight.fetch_sub(size, std::memory_order_relaxed);
        }
    }
}

void IoWorker::received(Inbound item)
{
    if (m_received.empty())
        m_poller->deferFlush(this);
    m_received.push_back(std::move(item));
}

void IoWorker::flushDeferred()
{
    if (m_received.empty())
        return;
    // One wake-up for everything received until the main thread takes it.
    if (m_inbox.put(m_received))
        QMetaObject::invokeMethod(&m_threads, &IoThreads::receive, Qt::QueuedConnection);
}

std::vector<IoWorker::Inbound> IoWorker::takeReceived()
{
    return m_inbox.take();
}

IoThreads::IoThreads(int count, QObject *parent)
    : QObject(parent)
{
    for (int i = 0; i < count; ++i) {
        auto *thread = new QThread;
        thread->setObjectName(u"medrelay-io-%1"_s.arg(i));
        auto *worker = new IoWorker(*this);
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

void IoThreads::staged(IoWorker *worker)
{
    m_dirty.push_back(worker);
    if (m_depth == 0 && !m_handOverScheduled) {
        m_handOverScheduled = true;
        QMetaObject::invokeMethod(this, &IoThreads::handOver, Qt::QueuedConnection);
    }
}

void IoThreads::handOver()
{
    m_handOverScheduled = false;
    std::vector<IoWorker *> dirty;
    dirty.swap(m_dirty);
    for (IoWorker *w : dirty)
        w->handOver();
}

void IoThreads::receive()
{
    // Every worker's arrivals at once, not only the one that woke us: under
    // load several have something, and handling them in one Batch makes one
    // hand-over per worker for all of it instead of one per worker per
    // arrival. Later wake-ups that find nothing left cost a lock each.
    std::vector<std::vector<IoWorker::Inbound>> batches;
    batches.reserve(m_workers.size());
    for (IoWorker *w : m_workers)
        batches.push_back(w->takeReceived());
    Batch outer(*this);
    for (const std::vector<IoWorker::Inbound> &batch : batches) {
        for (const IoWorker::Inbound &item : batch) {
            // Nothing for a handle already gone (the slot outlives it).
            if (ThreadedClientSocket *socket = item.slot->owner)
                socket->handle(item);
        }
    }
}

ThreadedClientSocket::ThreadedClientSocket(IoWorker *worker, transport::Stream stream, const QByteArray &early,
                                           const transport::ConnectionLimits &limits,
                                           const QByteArray &handshakeResponse, QHostAddress peer, RequestTarget target,
                                           QObject *parent)
    : ClientSocket(parent)
    , m_worker(worker)
    , m_slot(std::make_shared<SocketSlot>())
    , m_peer(std::move(peer))
    , m_target(std::move(target))
{
    m_slot->owner = this;
    // The stream crosses in a holder the call owns: closed with it if the
    // worker stops before it runs.
    auto held = std::make_shared<transport::Stream>(std::move(stream));
    QMetaObject::invokeMethod(worker, [worker, slot = m_slot, held, early, limits, handshakeResponse] {
        // A child of the worker, so a stopping thread takes its sockets along.
        auto *c = new transport::WebSocketConnection(*worker->poller(), std::move(*held), early, limits, worker);
        slot->connection = c;
        // The connection keeps the slot's figure current as it writes.
        c->mirrorBytesQueued(&slot->transportQueued);
        c->sendFrame(handshakeResponse);
        // In the worker: record how it ended, let go, and tell the main
        // thread after whatever the socket received before.
        using Inbound = IoWorker::Inbound;
        QObject::connect(c, &transport::WebSocketConnection::disconnected, c, [worker, slot, c] {
            c->mirrorBytesQueued(nullptr);
            slot->closeCode.store(c->closeCode());
            slot->connection = nullptr;
            c->deleteLater();
            worker->received(Inbound{slot, {}, Inbound::Kind::Disconnected});
        });
        const auto message = [worker, slot](const QByteArray &utf8) {
            worker->received(Inbound{slot, utf8, Inbound::Kind::Message});
        };
        QObject::connect(c, &transport::WebSocketConnection::textReceived, c, message);
        QObject::connect(c, &transport::WebSocketConnection::binaryReceived, c, message);
        QObject::connect(c, &transport::WebSocketConnection::controlReceived, c,
                         [worker, slot](transport::Opcode opcode, const QByteArray &payload) {
                             worker->received(Inbound{slot, payload, Inbound::Kind::Control, opcode});
                         });
    }, Qt::QueuedConnection);
}

ThreadedClientSocket::~ThreadedClientSocket()
{
    m_slot->owner = nullptr;
    inWorker([](transport::WebSocketConnection *c) { c->abort(); });
}

void ThreadedClientSocket::handle(const IoWorker::Inbound &item)
{
    switch (item.kind) {
    case IoWorker::Inbound::Kind::Message: deliverMessage(item.payload); break;
    case IoWorker::Inbound::Kind::Control: deliverControl(item.opcode, item.payload); break;
    case IoWorker::Inbound::Kind::Disconnected: deliverDisconnected(); break;
    }
}

template<typename Fn>
void ThreadedClientSocket::inWorker(Fn fn)
{
    // Frames staged before this call must reach the socket first (a message,
    // then the close that follows it): hand them over ahead of it.
    m_worker->handOver();
    QMetaObject::invokeMethod(m_worker, [slot = m_slot, fn] {
        if (slot->connection)
            fn(slot->connection);
    }, Qt::QueuedConnection);
}

void ThreadedClientSocket::sendText(const OutboundMessage &message)
{
    // The frame is made here, once, and shared with the worker (QByteArray's
    // reference count is atomic).
    m_worker->stage(m_slot, message.wsFrame());
}

qint64 ThreadedClientSocket::bytesQueued() const
{
    // The client's backlog in the worker, and what is on its way there.
    return m_slot->inFlight.load(std::memory_order_relaxed)
           + m_slot->transportQueued.load(std::memory_order_relaxed);
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
