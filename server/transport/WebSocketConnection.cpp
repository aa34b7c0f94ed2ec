#include "transport/WebSocketConnection.h"

#include "transport/EpollPoller.h"

#include <QLoggingCategory>
#include <QTimerEvent>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

Q_LOGGING_CATEGORY(lcWsConn, "medrelay.transport.connection")

namespace medrelay::transport {

#ifdef Q_OS_LINUX

namespace {

// iovecs per sendmsg(); enough to empty a typical backlog in one call.
constexpr int kMaxIov = 64;

bool setNonBlockingCloexec(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return false;
    // dup() does not copy FD_CLOEXEC, and a child process must not keep a
    // client's socket open.
    const int fdFlags = ::fcntl(fd, F_GETFD);
    return fdFlags >= 0 && ::fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) >= 0;
}

bool wouldBlock(int error)
{
    return error == EAGAIN || error == EWOULDBLOCK;
}

} // namespace

WebSocketConnection::WebSocketConnection(EpollPoller &poller, int fd, const QByteArray &initialData,
                                         const ConnectionLimits &limits, QObject *parent)
    : QObject(parent)
    , m_poller(&poller)
    , m_decoder(limits.maxFrameSize, limits.maxMessageSize)
    , m_initialData(initialData)
    , m_fd(fd)
    , m_closeTimeoutMs(limits.closeTimeoutMs)
{
    if (m_fd < 0) {
        closeSocket(CloseCode::Abnormal);
        return;
    }
    if (!setNonBlockingCloexec(m_fd)) {
        qCWarning(lcWsConn, "fcntl(%d) failed: %s", m_fd, std::strerror(errno));
        closeSocket(CloseCode::Abnormal);
        return;
    }
    sockaddr_storage address{};
    socklen_t addressLength = sizeof(address);
    if (::getpeername(m_fd, reinterpret_cast<sockaddr *>(&address), &addressLength) == 0) {
        if (address.ss_family == AF_INET || address.ss_family == AF_INET6) {
            const int one = 1;
            if (::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
                qCWarning(lcWsConn, "TCP_NODELAY on %d failed: %s", m_fd, std::strerror(errno));
        }
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
        qCWarning(lcWsConn, "getpeername(%d) failed: %s", m_fd, std::strerror(errno));
    }
    if (!poller.add(m_fd, this)) {
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
    if (m_fd >= 0) {
        if (m_poller)
            m_poller->remove(m_fd);
        if (::close(m_fd) != 0)
            qCDebug(lcWsConn, "close(%d) failed: %s", m_fd, std::strerror(errno));
    }
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
    if (m_fd < 0)
        return;
    // Linger 0: the kernel drops unsent data and frees the socket at once
    // (RST), which is the point of aborting a client that stopped reading.
    const linger noLinger{1, 0};
    if (::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &noLinger, sizeof(noLinger)) != 0)
        qCDebug(lcWsConn, "SO_LINGER on %d failed: %s", m_fd, std::strerror(errno));
    closeSocket(CloseCode::Abnormal);
}

void WebSocketConnection::epollEvents(quint32 events)
{
    if (m_fd < 0)
        return;
    if (!m_initialData.isEmpty()) {
        processInitialData();
        if (m_fd < 0)
            return;
    }
    if ((events & EPOLLOUT) != 0) {
        if (!flush())
            return;
        closeIfDone();
        if (m_fd < 0)
            return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        readSocket();
}

void WebSocketConnection::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timerId)
        return;
    qCDebug(lcWsConn, "close handshake on %d timed out", m_fd);
    abort();
}

void WebSocketConnection::processInitialData()
{
    if (m_fd < 0 || m_initialData.isEmpty())
        return;
    const QByteArray data = std::exchange(m_initialData, QByteArray());
    processInput(data);
}

void WebSocketConnection::readSocket()
{
    char *buffer = m_poller ? m_poller->scratch() : nullptr;
    if (buffer == nullptr)
        return;
    // One read per readiness event: level-triggered epoll calls us again if
    // more is waiting, so one busy client cannot starve the others.
    for (;;) {
        const ssize_t n = ::recv(m_fd, buffer, EpollPoller::ScratchSize, 0);
        if (n > 0) {
            processInput(QByteArrayView(buffer, n));
            return;
        }
        if (n == 0) {
            closeSocket(CloseCode::Abnormal);
            return;
        }
        if (errno == EINTR)
            continue;
        if (wouldBlock(errno))
            return;
        qCDebug(lcWsConn, "recv(%d) failed: %s", m_fd, std::strerror(errno));
        closeSocket(CloseCode::Abnormal);
        return;
    }
}

void WebSocketConnection::processInput(QByteArrayView data)
{
    DecoderEvent event;
    // A slot may close or abort us between events: stop then.
    while (m_fd >= 0 && m_decoder.next(data, event))
        handleEvent(event);
}

void WebSocketConnection::handleEvent(DecoderEvent &event)
{
    switch (event.type) {
    case DecoderEvent::Type::Text:
        // After our close frame the owner no longer wants messages.
        if (!m_sentClose)
            Q_EMIT textReceived(event.payload);
        break;
    case DecoderEvent::Type::Binary:
        if (!m_sentClose)
            Q_EMIT binaryReceived(event.payload);
        break;
    case DecoderEvent::Type::Ping:
        if (!m_sentClose)
            queuePong(event.payload);
        Q_EMIT controlReceived(Opcode::Ping, event.payload);
        break;
    case DecoderEvent::Type::Pong:
        Q_EMIT controlReceived(Opcode::Pong, event.payload);
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
        qCDebug(lcWsConn, "closing %d with %u: %s", m_fd, event.closeCode, qUtf8Printable(event.reason));
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
    if (m_fd < 0)
        return false;
    if (bytes.isEmpty())
        return true;
    // Queue (shared, not copied) and let the poller flush once per dispatch:
    // a connection sent several frames in one batch gets one sendmsg().
    m_queue.append(bytes);
    m_queuedBytes += bytes.size();
    if (!m_flushPending && !m_wantWrite && m_poller) {
        m_flushPending = true;
        m_poller->deferFlush(this);
    }
    return true;
}

void WebSocketConnection::queuePong(QByteArrayView payload)
{
    if (m_fd < 0)
        return;
    QByteArray pong = WebSocketCodec::encodeFrame(Opcode::Pong, payload);
    // The head of the queue may be half written: only a pong behind it can
    // be replaced.
    const bool replaceable = m_pongIndex > 0 || (m_pongIndex == 0 && m_headOffset == 0);
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
    if (m_fd < 0 || !flush())
        return;
    closeIfDone();
}

bool WebSocketConnection::flush()
{
    while (!m_queue.isEmpty()) {
        iovec iov[kMaxIov];
        const int count = static_cast<int>(qMin<qsizetype>(m_queue.size(), kMaxIov));
        size_t total = 0;
        for (int i = 0; i < count; ++i) {
            const QByteArray &frame = m_queue.at(i);
            const qsizetype skip = i == 0 ? m_headOffset : 0;
            // iovec wants a non-const pointer but sendmsg() only reads it.
            iov[i].iov_base = const_cast<char *>(frame.constData() + skip);
            iov[i].iov_len = static_cast<size_t>(frame.size() - skip);
            total += iov[i].iov_len;
        }
        msghdr message{};
        message.msg_iov = iov;
        message.msg_iovlen = static_cast<size_t>(count);
        const ssize_t n = ::sendmsg(m_fd, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (wouldBlock(errno)) {
                setWantWrite(true);
                return true;
            }
            qCDebug(lcWsConn, "sendmsg(%d) failed: %s", m_fd, std::strerror(errno));
            closeSocket(CloseCode::Abnormal);
            return false;
        }
        m_queuedBytes -= n;
        auto left = static_cast<qsizetype>(n);
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
        if (static_cast<size_t>(n) < total) {
            setWantWrite(true); // the kernel is full; EPOLLOUT will call again
            return true;
        }
    }
    // Give the list's storage back: an idle connection holds no buffers.
    m_queue = QList<QByteArray>();
    m_headOffset = 0;
    m_pongIndex = -1;
    setWantWrite(false);
    return true;
}

void WebSocketConnection::setWantWrite(bool want)
{
    if (m_wantWrite == want || m_fd < 0 || !m_poller)
        return;
    if (m_poller->modify(m_fd, want))
        m_wantWrite = want;
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
    if (m_fd < 0 || !m_queue.isEmpty())
        return;
    // Both close frames exchanged, or we failed the connection: the server
    // closes the TCP connection first (RFC 6455 7.1.1).
    if (m_sentClose && (m_receivedClose || m_failed))
        closeSocket(CloseCode::Abnormal);
}

void WebSocketConnection::closeSocket(quint16 codeIfUnset)
{
    if (m_disconnectQueued)
        return;
    m_disconnectQueued = true;
    if (m_closeCode == 0)
        m_closeCode = codeIfUnset;
    if (m_fd >= 0) {
        if (m_poller)
            m_poller->remove(m_fd);
        // No retry on EINTR: on Linux the fd is released either way.
        if (::close(m_fd) != 0)
            qCDebug(lcWsConn, "close(%d) failed: %s", m_fd, std::strerror(errno));
        m_fd = -1;
    }
    m_queue = QList<QByteArray>();
    m_queuedBytes = 0;
    m_headOffset = 0;
    m_pongIndex = -1;
    m_initialData = QByteArray();
    m_wantWrite = false;
    if (m_flushPending && m_poller) {
        m_poller->cancelFlush(this);
        m_flushPending = false;
    }
    if (m_timerId != 0) {
        killTimer(m_timerId);
        m_timerId = 0;
    }
    QMetaObject::invokeMethod(this, [this] { Q_EMIT disconnected(); }, Qt::QueuedConnection);
}

#else // !Q_OS_LINUX

WebSocketConnection::WebSocketConnection(EpollPoller &poller, int, const QByteArray &,
                                         const ConnectionLimits &limits, QObject *parent)
    : QObject(parent)
    , m_poller(&poller)
    , m_decoder(limits.maxFrameSize, limits.maxMessageSize)
{
    // Not supported here: the caller keeps the fd; report the end at once.
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
void WebSocketConnection::processInput(QByteArrayView) { }
void WebSocketConnection::handleEvent(DecoderEvent &) { }
void WebSocketConnection::processInitialData() { }
bool WebSocketConnection::write(const QByteArray &) { return false; }
void WebSocketConnection::queuePong(QByteArrayView) { }
bool WebSocketConnection::flush() { return false; }
void WebSocketConnection::setWantWrite(bool) { }
void WebSocketConnection::sendCloseFrame(quint16, QByteArrayView) { }
void WebSocketConnection::closeIfDone() { }
void WebSocketConnection::closeSocket(quint16) { }

#endif

} // namespace medrelay::transport
