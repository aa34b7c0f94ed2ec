#include "transport/WebSocketConnection.h"

#include "transport/EpollPoller.h"

#include <QLoggingCategory>
#include <QTimerEvent>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#endif

Q_LOGGING_CATEGORY(lcWsConn, "medrelay.transport.connection")

namespace medrelay::transport {

#ifdef Q_OS_LINUX

WebSocketConnection::WebSocketConnection(EpollPoller &poller, int fd, const QByteArray &initialData,
                                         const ConnectionLimits &limits, QObject *parent)
    : WebSocketConnection(poller, Stream(fd, nullptr), initialData, limits, parent)
{
}

WebSocketConnection::WebSocketConnection(EpollPoller &poller, Stream stream, const QByteArray &initialData,
                                         const ConnectionLimits &limits, QObject *parent)
    : QObject(parent)
    , m_poller(&poller)
    , m_stream(std::move(stream))
    , m_decoder(limits.maxFrameSize, limits.maxMessageSize)
    , m_initialData(initialData)
    , m_closeTimeoutMs(limits.closeTimeoutMs)
{
    if (!m_stream.isOpen()) {
        closeSocket(CloseCode::Abnormal);
        return;
    }
    const int fd = m_stream.fd();
    if (!m_stream.prepareSocket()) {
        qCWarning(lcWsConn, "fcntl(%d) failed: %s", fd, std::strerror(errno));
        closeSocket(CloseCode::Abnormal);
        return;
    }
    sockaddr_storage address{};
    socklen_t addressLength = sizeof(address);
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&address), &addressLength) == 0) {
        if (address.ss_family == AF_INET) {
            sockaddr_in in4{};
            std::memcpy(&in4, &address, sizeof(in4));
            std::memcpy(m_peerIp, &in4.sin_addr, 4);
            m_peerPort = ntohs(in4.sin_port);
            m_peerFamily = 4;
        } else if (address.ss_family == AF_INET6) {
            sockaddr_in6 in6{};
            std::memcpy(&in6, &address, sizeof(in6));
            std::memcpy(m_peerIp, &in6.sin6_addr, 16);
            m_peerPort = ntohs(in6.sin6_port);
            m_peerFamily = 6;
        }
    } else if (errno == ENOTCONN) {
        // The peer already went away; reading will report it.
    } else {
        qCWarning(lcWsConn, "getpeername(%d) failed: %s", fd, std::strerror(errno));
    }
    if (!poller.add(fd, this)) {
        closeSocket(CloseCode::Abnormal);
        return;
    }
    if (!m_initialData.isEmpty())
        QMetaObject::invokeMethod(this, &WebSocketConnection::processInitialData, Qt::QueuedConnection);
}

WebSocketConnection::~WebSocketConnection()
{
    if (m_flushPending && m_poller)
        m_poller->cancelFlush(this);
    if (m_stream.isOpen() && m_poller)
        m_poller->remove(m_stream.fd());
    // m_stream closes itself.
}

QHostAddress WebSocketConnection::peerAddress() const
{
    if (m_peerFamily == 4) {
        quint32 ip = 0;
        std::memcpy(&ip, m_peerIp, 4);
        return QHostAddress(ntohl(ip));
    }
    if (m_peerFamily == 6)
        return QHostAddress(m_peerIp);
    return {};
}

void WebSocketConnection::mirrorBytesQueued(std::atomic<qint64> *mirror)
{
    m_mirror = mirror;
    updateMirror();
}

bool WebSocketConnection::sendFrame(const QByteArray &frame)
{
    if (!isWritable())
        return false;
    return write(frame);
}

void WebSocketConnection::ping(QByteArrayView payload)
{
    if (!isWritable())
        return;
    const qsizetype size = qMin(payload.size(), WebSocketCodec::MaxControlPayload);
    write(WebSocketCodec::encodeFrame(Opcode::Ping, payload.first(size)));
}

void WebSocketConnection::close(quint16 code, const QString &reason)
{
    if (!isWritable())
        return;
    m_closeCode = code;
    m_closeReason = reason;
    sendCloseFrame(code, reason.toUtf8());
    closeIfDone();
}

void WebSocketConnection::abort()
{
    if (!m_stream.isOpen())
        return;
    closeSocket(CloseCode::Abnormal, true);
}

void WebSocketConnection::epollEvents(quint32 events)
{
    if (!m_stream.isOpen())
        return;
    if (!m_initialData.isEmpty()) {
        processInitialData();
        if (!m_stream.isOpen())
            return;
    }
    const bool readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    const bool writable = (events & EPOLLOUT) != 0;
    // A TLS write may wait for the socket to be readable, and a TLS read
    // for it to be writable.
    if (writable || (readable && m_writeWantsRead)) {
        m_writeWantsRead = false;
        if (!flush())
            return;
        closeIfDone();
        if (!m_stream.isOpen())
            return;
    }
    if (readable || (writable && m_readWantsWrite)) {
        m_readWantsWrite = false;
        readSocket();
    }
}

void WebSocketConnection::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timerId)
        return;
    qCDebug(lcWsConn, "close handshake on %d timed out", m_stream.fd());
    abort();
}

void WebSocketConnection::processInitialData()
{
    if (!m_stream.isOpen() || m_initialData.isEmpty())
        return;
    const QByteArray data = std::exchange(m_initialData, QByteArray());
    processInput(data);
}

void WebSocketConnection::readSocket()
{
    m_readPending = false;
    char *buffer = m_poller ? m_poller->scratch() : nullptr;
    if (buffer == nullptr)
        return;
    // One read per readiness event (over TLS, the whole records that fit
    // the scratch buffer): level-triggered epoll calls us again if more is
    // waiting, so one busy client cannot starve the others.
    const Stream::Result r = m_stream.read(buffer, EpollPoller::ScratchSize);
    if (r.bytes > 0) {
        processInput(QByteArrayView(buffer, r.bytes));
        if (!m_stream.isOpen())
            return;
    }
    if (!handleStop(r.status, false))
        return;
    // Decrypted bytes OpenSSL still holds are invisible to epoll: come back
    // for them at the end of this dispatch.
    if (m_stream.hasBufferedInput() && !m_readPending && m_poller) {
        m_readPending = true;
        if (!m_flushPending) {
            m_flushPending = true;
            m_poller->deferFlush(this);
        }
    }
}

bool WebSocketConnection::handleStop(Stream::Status status, bool writing)
{
    switch (status) {
    case Stream::Status::Ok:
        return true;
    case Stream::Status::WantRead:
        if (writing)
            m_writeWantsRead = true; // epoll reports readability anyway
        return true;
    case Stream::Status::WantWrite:
        if (!writing)
            m_readWantsWrite = true;
        setWantWrite(true);
        return true;
    case Stream::Status::Closed:
    case Stream::Status::Failed:
        closeSocket(CloseCode::Abnormal);
        return false;
    }
    return true;
}

void WebSocketConnection::processInput(QByteArrayView data)
{
    DecoderEvent event;
    // A slot may close or abort us between events: stop then.
    while (m_stream.isOpen() && m_decoder.next(data, event))
        handleEvent(event);
}

void WebSocketConnection::handleEvent(DecoderEvent &event)
{
    switch (event.type) {
    case DecoderEvent::Type::Text:
        // After our close frame the owner no longer wants messages.
        if (!m_sentClose) {
            if (m_observer != nullptr)
                m_observer->textReceived(event.payload);
            Q_EMIT textReceived(event.payload);
        }
        break;
    case DecoderEvent::Type::Binary:
        if (!m_sentClose) {
            if (m_observer != nullptr)
                m_observer->binaryReceived(event.payload);
            Q_EMIT binaryReceived(event.payload);
        }
        break;
    case DecoderEvent::Type::Ping:
        if (!m_sentClose) {
            queuePong(event.payload);
            if (m_observer != nullptr)
                m_observer->controlReceived(Opcode::Ping, event.payload);
            Q_EMIT controlReceived(Opcode::Ping, event.payload);
        }
        break;
    case DecoderEvent::Type::Pong:
        if (!m_sentClose) {
            if (m_observer != nullptr)
                m_observer->controlReceived(Opcode::Pong, event.payload);
            Q_EMIT controlReceived(Opcode::Pong, event.payload);
        }
        break;
    case DecoderEvent::Type::Close:
        m_receivedClose = true;
        if (m_closeCode == 0) {
            m_closeCode = event.closeCode;
            m_closeReason = event.reason;
        }
        if (!m_sentClose)
            sendCloseFrame(event.closeCode, {}); // echo the code; 1005 echoes as empty
        closeIfDone();
        break;
    case DecoderEvent::Type::ProtocolError:
        qCDebug(lcWsConn, "closing %d with %u: %s", m_stream.fd(), event.closeCode, qUtf8Printable(event.reason));
        m_failed = true;
        if (!m_sentClose) {
            if (m_closeCode == 0)
                m_closeCode = event.closeCode;
            sendCloseFrame(event.closeCode, {});
        }
        closeIfDone();
        break;
    }
    event.payload = QByteArray();
}

bool WebSocketConnection::write(const QByteArray &bytes)
{
    if (!m_stream.isOpen())
        return false;
    if (bytes.isEmpty())
        return true;
    // Queue (shared, not copied) and let the poller flush once per dispatch:
    // a connection sent several frames in one batch gets one sendmsg().
    m_queue.append(bytes);
    m_queuedBytes += bytes.size();
    if (m_wantWrite)
        updateMirror();
    if (!m_flushPending && !m_wantWrite && m_poller) {
        m_flushPending = true;
        m_poller->deferFlush(this);
    }
    return true;
}

void WebSocketConnection::queuePong(QByteArrayView payload)
{
    if (!m_stream.isOpen())
        return;
    QByteArray pong = WebSocketCodec::encodeFrame(Opcode::Pong, payload);
    // The head of the queue may be half written (or, over TLS, handed to
    // OpenSSL, which wants the same bytes again): only a pong behind it can
    // be replaced.
    const bool replaceable =
        m_pongIndex > 0 || (m_pongIndex == 0 && m_headOffset == 0 && !m_stream.isTls());
    if (replaceable) {
        QByteArray &queued = m_queue[m_pongIndex];
        m_queuedBytes += pong.size() - queued.size();
        queued = std::move(pong);
        return;
    }
    if (write(pong))
        m_pongIndex = static_cast<int>(m_queue.size() - 1);
}

void WebSocketConnection::flushDeferred()
{
    m_flushPending = false;
    if (!m_stream.isOpen())
        return;
    if (!m_queue.isEmpty() && !m_wantWrite) {
        if (!flush())
            return;
        closeIfDone();
        if (!m_stream.isOpen())
            return;
    }
    if (m_readPending)
        readSocket();
}

bool WebSocketConnection::flush()
{
    while (!m_queue.isEmpty()) {
        const Stream::Result r = m_stream.write(m_queue, m_headOffset);
        m_queuedBytes -= r.bytes;
        auto left = r.bytes;
        while (left > 0) {
            const qsizetype rest = m_queue.constFirst().size() - m_headOffset;
            if (left < rest) {
                m_headOffset += left;
                break;
            }
            left -= rest;
            m_queue.removeFirst();
            m_headOffset = 0;
            if (m_pongIndex >= 0)
                --m_pongIndex; // -1 once the pong itself went out
        }
        if (r.status != Stream::Status::Ok) {
            // The kernel is full (EPOLLOUT will call again), TLS waits for
            // the peer, or the socket failed.
            if (r.status == Stream::Status::WantRead) {
                m_writeWantsRead = true;
                updateMirror();
                return true;
            }
            const bool open = handleStop(r.status, true);
            updateMirror();
            return open;
        }
    }
    // Give the list's storage back: an idle connection holds no buffers.
    m_queue = QList<QByteArray>();
    m_headOffset = 0;
    m_pongIndex = -1;
    setWantWrite(false);
    updateMirror();
    return true;
}

void WebSocketConnection::setWantWrite(bool want)
{
    if (m_wantWrite == want || !m_stream.isOpen() || !m_poller)
        return;
    if (m_poller->modify(m_stream.fd(), want)) {
        m_wantWrite = want;
        updateMirror();
    }
}

void WebSocketConnection::sendCloseFrame(quint16 code, QByteArrayView reasonUtf8)
{
    m_sentClose = true;
    if (!write(WebSocketCodec::encodeClose(code, reasonUtf8)))
        return;
    if (m_timerId == 0)
        m_timerId = startTimer(m_closeTimeoutMs);
}

void WebSocketConnection::closeIfDone()
{
    if (!m_stream.isOpen() || !m_queue.isEmpty())
        return;
    // Both close frames exchanged, or we failed the connection: the server
    // closes the TCP connection first (RFC 6455 7.1.1).
    if (m_sentClose && (m_receivedClose || m_failed))
        closeSocket(CloseCode::Abnormal);
}

void WebSocketConnection::closeSocket(quint16 codeIfUnset, bool abortive)
{
    if (m_disconnectQueued)
        return;
    m_disconnectQueued = true;
    if (m_closeCode == 0)
        m_closeCode = codeIfUnset;
    if (m_stream.isOpen()) {
        if (m_poller)
            m_poller->remove(m_stream.fd());
        // After a clean close handshake, end TLS politely too.
        if (!abortive && m_sentClose && m_receivedClose)
            m_stream.shutdown();
        m_stream.close(abortive);
    }
    m_queue = QList<QByteArray>();
    m_queuedBytes = 0;
    m_headOffset = 0;
    m_pongIndex = -1;
    m_initialData = QByteArray();
    m_wantWrite = false;
    m_readPending = false;
    updateMirror();
    if (m_flushPending && m_poller) {
        m_poller->cancelFlush(this);
        m_flushPending = false;
    }
    if (m_timerId != 0) {
        killTimer(m_timerId);
        m_timerId = 0;
    }
    QMetaObject::invokeMethod(this, [this] {
        if (m_observer != nullptr)
            m_observer->disconnected();
        Q_EMIT disconnected();
    }, Qt::QueuedConnection);
}

#else // !Q_OS_LINUX

WebSocketConnection::WebSocketConnection(EpollPoller &poller, int fd, const QByteArray &initialData,
                                         const ConnectionLimits &limits, QObject *parent)
    : WebSocketConnection(poller, Stream(fd, nullptr), initialData, limits, parent)
{
}

WebSocketConnection::WebSocketConnection(EpollPoller &poller, Stream stream, const QByteArray &,
                                         const ConnectionLimits &limits, QObject *parent)
    : QObject(parent)
    , m_poller(&poller)
    , m_decoder(limits.maxFrameSize, limits.maxMessageSize)
{
    // Not supported here: the caller keeps the fd; report the end at once.
    (void)stream.release();
    m_closeCode = CloseCode::Abnormal;
    QMetaObject::invokeMethod(this, [this] { Q_EMIT disconnected(); }, Qt::QueuedConnection);
}

WebSocketConnection::~WebSocketConnection() = default;
QHostAddress WebSocketConnection::peerAddress() const { return {}; }
bool WebSocketConnection::sendFrame(const QByteArray &) { return false; }
void WebSocketConnection::ping(QByteArrayView) { }
void WebSocketConnection::close(quint16, const QString &) { }
void WebSocketConnection::abort() { }
void WebSocketConnection::epollEvents(quint32) { }
void WebSocketConnection::timerEvent(QTimerEvent *) { }
void WebSocketConnection::readSocket() { }
bool WebSocketConnection::handleStop(Stream::Status, bool) { return false; }
void WebSocketConnection::processInput(QByteArrayView) { }
void WebSocketConnection::handleEvent(DecoderEvent &) { }
void WebSocketConnection::processInitialData() { }
bool WebSocketConnection::write(const QByteArray &) { return false; }
void WebSocketConnection::queuePong(QByteArrayView) { }
bool WebSocketConnection::flush() { return false; }
void WebSocketConnection::setWantWrite(bool) { }
void WebSocketConnection::sendCloseFrame(quint16, QByteArrayView) { }
void WebSocketConnection::closeIfDone() { }
void WebSocketConnection::closeSocket(quint16, bool) { }
void WebSocketConnection::flushDeferred() { }
void WebSocketConnection::mirrorBytesQueued(std::atomic<qint64> *) { }

#endif

} // namespace medrelay::transport
