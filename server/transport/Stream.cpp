#include "transport/Stream.h"

#include <QLoggingCategory>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

Q_LOGGING_CATEGORY(lcStream, "medrelay.transport.stream")

namespace medrelay::transport {

Stream::Stream(int fd, SSL *ssl)
    : m_fd(fd)
    , m_ssl(ssl)
{
}

Stream::~Stream()
{
    close();
}

Stream::Stream(Stream &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
    , m_ssl(std::exchange(other.m_ssl, nullptr))
{
}

Stream &Stream::operator=(Stream &&other) noexcept
{
    if (this != &other) {
        close();
        m_fd = std::exchange(other.m_fd, -1);
        m_ssl = std::exchange(other.m_ssl, nullptr);
    }
    return *this;
}

Stream::Parts Stream::release()
{
    return {std::exchange(m_fd, -1), std::exchange(m_ssl, nullptr)};
}

#ifdef Q_OS_LINUX

namespace {

// iovecs per sendmsg(); enough to empty a typical backlog in one call.
constexpr int kMaxIov = 64;

bool wouldBlock(int error)
{
    return error == EAGAIN || error == EWOULDBLOCK;
}

int clampToInt(qsizetype n)
{
    return static_cast<int>(qMin<qsizetype>(n, INT_MAX));
}

} // namespace

bool Stream::prepareSocket()
{
    if (m_fd < 0)
        return false;
    const int flags = ::fcntl(m_fd, F_GETFL);
    if (flags < 0 || ::fcntl(m_fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return false;
    // dup() and accept() do not set FD_CLOEXEC, and a child process must
    // not keep a client's socket open.
    const int fdFlags = ::fcntl(m_fd, F_GETFD);
    if (fdFlags < 0 || ::fcntl(m_fd, F_SETFD, fdFlags | FD_CLOEXEC) < 0)
        return false;
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getsockname(m_fd, reinterpret_cast<sockaddr *>(&address), &length) == 0
        && (address.ss_family == AF_INET || address.ss_family == AF_INET6)) {
        const int one = 1;
        if (::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
            qCWarning(lcStream, "TCP_NODELAY on %d failed: %s", m_fd, std::strerror(errno));
    }
    return true;
}

Stream::Result Stream::tlsResult(int rc, qsizetype done)
{
    const int error = SSL_get_error(m_ssl, rc);
    Result result{done, Status::Failed};
    switch (error) {
    case SSL_ERROR_WANT_READ:
        result.status = Status::WantRead;
        break;
    case SSL_ERROR_WANT_WRITE:
        result.status = Status::WantWrite;
        break;
    case SSL_ERROR_ZERO_RETURN:
        result.status = Status::Closed;
        break;
    case SSL_ERROR_SYSCALL:
        if (errno == EINTR || wouldBlock(errno))
            result.status = Status::WantRead;
        else
            qCDebug(lcStream, "TLS on %d: %s", m_fd, errno != 0 ? std::strerror(errno) : "unexpected end");
        break;
    default:
        if (const unsigned long e = ERR_peek_error()) {
            char text[256];
            ERR_error_string_n(e, text, sizeof(text));
            qCDebug(lcStream, "TLS on %d: %s", m_fd, text);
        }
        break;
    }
    // The error queue is per thread and shared with every other OpenSSL
    // user (the token verifier among them): leave it empty.
    ERR_clear_error();
    return result;
}

Stream::Result Stream::handshake()
{
    if (m_ssl == nullptr)
        return {};
    ERR_clear_error();
    const int rc = SSL_do_handshake(m_ssl);
    if (rc == 1)
        return {};
    return tlsResult(rc, 0);
}

Stream::Result Stream::read(char *buffer, qsizetype capacity)
{
    if (m_fd < 0)
        return {0, Status::Failed};
    if (m_ssl == nullptr) {
        for (;;) {
            const ssize_t n = ::recv(m_fd, buffer, static_cast<size_t>(capacity), 0);
            if (n > 0)
                return {n, Status::Ok};
            if (n == 0)
                return {0, Status::Closed};
            if (errno == EINTR)
                continue;
            if (wouldBlock(errno))
                return {0, Status::WantRead};
            qCDebug(lcStream, "recv(%d) failed: %s", m_fd, std::strerror(errno));
            return {0, Status::Failed};
        }
    }
    qsizetype done = 0;
    do {
        ERR_clear_error();
        const int n = SSL_read(m_ssl, buffer + done, clampToInt(capacity - done));
        if (n > 0) {
            done += n;
            continue;
        }
        Result result = tlsResult(n, done);
        if (result.status == Status::WantRead && done > 0)
            result.status = Status::Ok;
        return result;
    } while (capacity - done >= TlsRecordSize);
    return {done, Status::Ok};
}

bool Stream::hasBufferedInput() const
{
    return m_ssl != nullptr && SSL_pending(m_ssl) > 0;
}

Stream::Result Stream::write(const QByteArray &bytes)
{
    if (bytes.isEmpty())
        return {};
    return write(QList<QByteArray>{bytes}, 0);
}

Stream::Result Stream::write(const QList<QByteArray> &frames, qsizetype headOffset)
{
    if (m_fd < 0)
        return {0, Status::Failed};
    if (m_ssl != nullptr) {
        qsizetype done = 0;
        for (qsizetype i = 0; i < frames.size(); ++i) {
            const QByteArray &frame = frames.at(i);
            const qsizetype skip = i == 0 ? headOffset : 0;
            const char *data = frame.constData() + skip;
            qsizetype left = frame.size() - skip;
            while (left > 0) {
                // One record per call (partial writes are on): encrypted from
                // the shared frame into OpenSSL's record buffer and sent. A
                // retry after WantWrite passes the same bytes, as OpenSSL
                // requires: the queue's head does not change meanwhile.
                ERR_clear_error();
                const int n = SSL_write(m_ssl, data, clampToInt(left));
                if (n <= 0)
                    return tlsResult(n, done);
                done += n;
                data += n;
                left -= n;
            }
        }
        return {done, Status::Ok};
    }
    iovec iov[kMaxIov];
    const int count = static_cast<int>(qMin<qsizetype>(frames.size(), kMaxIov));
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
        const QByteArray &frame = frames.at(i);
        const qsizetype skip = i == 0 ? headOffset : 0;
        // iovec wants a non-const pointer but sendmsg() only reads it.
        iov[i].iov_base = const_cast<char *>(frame.constData() + skip);
        iov[i].iov_len = static_cast<size_t>(frame.size() - skip);
        total += iov[i].iov_len;
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = static_cast<size_t>(count);
    for (;;) {
        const ssize_t n = ::sendmsg(m_fd, &message, MSG_NOSIGNAL);
        if (n >= 0)
            return {n, static_cast<size_t>(n) < total ? Status::WantWrite : Status::Ok};
        if (errno == EINTR)
            continue;
        if (wouldBlock(errno))
            return {0, Status::WantWrite};
        qCDebug(lcStream, "sendmsg(%d) failed: %s", m_fd, std::strerror(errno));
        return {0, Status::Failed};
    }
}

void Stream::shutdown()
{
    if (m_fd < 0)
        return;
    if (m_ssl != nullptr && SSL_is_init_finished(m_ssl)) {
        ERR_clear_error();
        SSL_shutdown(m_ssl); // queues and tries to send close_notify; never blocks
        ERR_clear_error();
    }
    ::shutdown(m_fd, SHUT_WR);
}

void Stream::close(bool abortive)
{
    if (m_ssl != nullptr) {
        SSL_free(m_ssl);
        m_ssl = nullptr;
    }
    if (m_fd < 0)
        return;
    if (abortive) {
        // Linger 0: the kernel drops unsent data and frees the socket at once
        // (RST), which is the point of aborting a client that stopped reading.
        const linger noLinger{1, 0};
        if (::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &noLinger, sizeof(noLinger)) != 0)
            qCDebug(lcStream, "SO_LINGER on %d failed: %s", m_fd, std::strerror(errno));
    }
    // No retry on EINTR: on Linux the fd is released either way.
    if (::close(m_fd) != 0)
        qCDebug(lcStream, "close(%d) failed: %s", m_fd, std::strerror(errno));
    m_fd = -1;
}

QByteArray Stream::tlsVersion() const
{
    return m_ssl != nullptr ? QByteArray(SSL_get_version(m_ssl)) : QByteArray();
}

void Stream::releaseThreadState()
{
    OPENSSL_thread_stop();
}

#else // !Q_OS_LINUX

bool Stream::prepareSocket() { return false; }
Stream::Result Stream::tlsResult(int, qsizetype done) { return {done, Status::Failed}; }
Stream::Result Stream::handshake() { return {0, Status::Failed}; }
Stream::Result Stream::read(char *, qsizetype) { return {0, Status::Failed}; }
bool Stream::hasBufferedInput() const { return false; }
Stream::Result Stream::write(const QByteArray &) { return {0, Status::Failed}; }
Stream::Result Stream::write(const QList<QByteArray> &, qsizetype) { return {0, Status::Failed}; }
void Stream::shutdown() { }
void Stream::close(bool) { m_fd = -1; }
QByteArray Stream::tlsVersion() const { return {}; }
void Stream::releaseThreadState() { }

#endif

} // namespace medrelay::transport
