#include "net/Listener.h"

#include "adminapi/AdminTypes.h"

#include "transport/EpollPoller.h"
#include "transport/TlsContext.h"

#include <QFile>
#include <QLoggingCategory>
#include <QSslKey>
#include <QSslSocket>
#include <QTimer>

#include <functional>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

Q_LOGGING_CATEGORY(lcHttp, "medrelay.http")

namespace medrelay::server {

using namespace Qt::StringLiterals;

// A QTcpSocket whose request head is still being read: its place in the
// pending pool, its deadline and how much of its head was found. A child of
// the socket, so it goes (and leaves the pool) with it.
class PendingTcp final : public QObject, public PendingPool::Entry
{
public:
    explicit PendingTcp(QTcpSocket *socket)
        : QObject(socket)
        , m_socket(socket)
    {
    }
    ~PendingTcp() override { killDeadline(); }
    Q_DISABLE_COPY_MOVE(PendingTcp)

    void startDeadline(int ms) { m_timerId = startTimer(ms); }
    void killDeadline()
    {
        if (m_timerId != 0)
            killTimer(m_timerId);
        m_timerId = 0;
    }
    std::function<void()> onDeadline;
    int headLength = 0;
    int served = 0;       // answers sent on this connection
    bool writing = false; // a kept connection's answer is being written
    [[nodiscard]] bool isIdle() const { return served > 0 && !writing && m_socket->bytesAvailable() == 0; }

protected:
    void timerEvent(QTimerEvent *) override
    {
        killDeadline();
        if (onDeadline)
            onDeadline();
    }
    void evicted() override
    {
        killDeadline();
        // Not from inside the pool's call: abort may emit disconnected().
        // A kept connection between requests loses nothing by a quiet close.
        if (isIdle())
            QMetaObject::invokeMethod(m_socket, &QAbstractSocket::disconnectFromHost, Qt::QueuedConnection);
        else
            QMetaObject::invokeMethod(m_socket, &QAbstractSocket::abort, Qt::QueuedConnection);
    }

private:
    QTcpSocket *m_socket;
    int m_timerId = 0;
};

Listener::Listener(const ServerConfig &config, HttpRequestHandler &http, UpgradeHandler &upgrades,
                   Metrics &metrics, QObject *parent)
    : QTcpServer(parent)
    , m_config(config)
    , m_http(http)
    , m_upgrades(upgrades)
    , m_metrics(metrics)
    , m_proxies(config.trustedProxies)
    , m_pool(config.maxPendingRequests, config.maxPendingPerAddress, m_proxies)
{
    m_limits.maxHeadBytes = static_cast<int>(config.maxHttpHeadBytes);
    // The kernel backlog; Qt accepts in a loop on every readiness event.
    setMaxPendingConnections(std::numeric_limits<int>::max());
#ifdef Q_OS_LINUX
    if (config.transport == Transport::Epoll) {
        m_poller = new transport::EpollPoller(this);
        if (!m_poller->isValid()) {
            delete m_poller;
            m_poller = nullptr;
        }
    }
#endif
}

Listener::~Listener()
{
    // Pending requests go before the poller they are registered with.
    qDeleteAll(findChildren<RawRequest *>(Qt::FindDirectChildrenOnly));
}

QString Listener::enableTls(const QString &certFile, const QString &keyFile)
{
    if (m_poller != nullptr) {
        QString error;
        auto context = transport::TlsContext::load(certFile, keyFile, &error);
        if (!context)
            return error;
        m_tlsContext = std::move(context);
        m_tls = true;
        qCInfo(lcHttp) << "TLS certificate:" << m_tlsContext->subject();
        return {};
    }

    QFile cf(certFile);
    if (!cf.open(QIODevice::ReadOnly))
        return u"--tls-cert: cannot read %1"_s.arg(certFile);
    const auto chain = QSslCertificate::fromData(cf.readAll(), QSsl::Pem);
    if (chain.isEmpty())
        return u"--tls-cert: no PEM certificate in %1"_s.arg(certFile);
    QFile kf(keyFile);
    if (!kf.open(QIODevice::ReadOnly))
        return u"--tls-key: cannot read %1"_s.arg(keyFile);
    const QByteArray keyPem = kf.readAll();
    QSslKey key(keyPem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(keyPem, QSsl::Ec, QSsl::Pem);
    if (key.isNull())
        return u"--tls-key: no RSA or EC private key in %1"_s.arg(keyFile);
    if (!QSslSocket::supportsSsl())
        return u"TLS requested but no TLS backend is available"_s;

    auto config = std::make_unique<QSslConfiguration>(QSslConfiguration::defaultConfiguration());
    config->setLocalCertificateChain(chain);
    config->setPrivateKey(key);
    config->setProtocol(QSsl::TlsV1_2OrLater);
    config->setPeerVerifyMode(QSslSocket::VerifyNone);
    m_sslConfig = std::move(config);
    m_tls = true;
    return {};
}

void Listener::incomingConnection(qintptr descriptor)
{
    if (m_poller != nullptr)
        acceptRaw(static_cast<int>(descriptor));
    else
        acceptQt(descriptor);
}

bool Listener::admit(PendingPool::Entry &entry, const QHostAddress &peer, bool countRefusal)
{
    const qint64 evictedBefore = m_pool.evictions();
    const bool admitted = m_pool.admit(entry, peer);
    for (qint64 n = m_pool.evictions() - evictedBefore; n > 0; --n)
        m_metrics.rejection(Rejection::PendingEvicted);
    if (!admitted && countRefusal)
        m_metrics.rejection(Rejection::TooManyConnections);
    return admitted;
}

void Listener::settle(HttpResponse &response, const HttpRequest &request, int served) const
{
    if (request.method == "HEAD")
        response.omitBody = true; // (a 304 has none either)
    response.keepAlive = request.keepAlive && served + 1 < kMaxRequestsPerConnection;
    if (response.keepAlive) {
        response.keepAliveTimeoutS = std::max(1, m_config.requestTimeoutMs / 1000);
        response.keepAliveMax = kMaxRequestsPerConnection - served - 1;
    }
}

Listener::Examined Listener::examine(QByteArrayView data, int &headLength, const QHostAddress &peer)
{
    if (headLength == 0) {
        headLength = findHeadEnd(data);
        if (headLength < 0) {
            headLength = 0;
            if (data.size() >= m_limits.maxHeadBytes) {
                m_metrics.rejection(Rejection::HeadTooLarge);
                return HttpResponse::error(431, u"head_too_large"_s, u"request head too large"_s);
            }
            return NeedMore{};
        }
    }
    auto parsed = parseRequestHead(data.first(headLength), m_limits);
    if (auto *err = std::get_if<HttpParseError>(&parsed)) {
        m_metrics.rejection(err->status == 431 ? Rejection::HeadTooLarge : Rejection::BadRequest);
        return HttpResponse::error(err->status, u"bad_request"_s, err->message);
    }
    HttpRequest request = std::get<HttpRequest>(std::move(parsed));
    request.peer = m_proxies.clientAddress(peer, request.header("x-forwarded-for"));
    if (request.upgrade)
        return request;
    if (!request.header("transfer-encoding").isEmpty()) {
        // Admin requests are small: a Content-Length is required.
        m_metrics.rejection(Rejection::BadRequest);
        return HttpResponse::error(411, u"length_required"_s, u"send the body with Content-Length, not chunked"_s);
    }
    if (request.contentLength > m_config.maxHttpBodyBytes) {
        m_metrics.rejection(Rejection::BadRequest);
        return HttpResponse::error(413, u"message_too_large"_s, u"request body too large"_s);
    }
    if (data.size() < headLength + request.contentLength)
        return NeedMore{}; // the rest of the body
    request.body = data.sliced(headLength, request.contentLength).toByteArray();
    return request;
}

std::optional<HttpResponse> Listener::checkUpgrade(const HttpRequest &request)
{
    if (request.path != m_config.wsPath && request.path != QLatin1StringView(adminapi::Path::AdminStream)) {
        m_metrics.rejection(Rejection::UpgradeNotFound);
        return HttpResponse::error(404, u"not_found"_s, u"no WebSocket endpoint at this path"_s);
    }
    return m_upgrades.check(request);
}

// ---- Lean path ----------------------------------------------------------

void Listener::acceptRaw(int fd)
{
#ifdef Q_OS_LINUX
    transport::Stream plain(fd, nullptr);
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (!plain.prepareSocket() || ::getpeername(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
        return; // gone already
    QHostAddress peer(reinterpret_cast<const sockaddr *>(&address));
    transport::Stream stream;
    if (m_tlsContext) {
        SSL *ssl = m_tlsContext->newSession(fd);
        if (ssl == nullptr)
            return;
        (void)plain.release();
        stream = transport::Stream(fd, ssl);
    } else {
        stream = std::move(plain);
    }
    auto *request = new RawRequest(*m_poller, std::move(stream), std::move(peer), *this,
                                   m_limits.maxHeadBytes + m_config.maxHttpBodyBytes, m_config.requestTimeoutMs, this);
    if (!admit(*request, request->peer()))
        request->abort();
    else
        request->begin();
#else
    Q_UNUSED(fd);
#endif
}

void Listener::requestData(RawRequest &pending)
{
    Examined examined = examine(pending.data(), pending.headLength, pending.peer());
    if (std::holds_alternative<NeedMore>(examined))
        return;
    if (auto *response = std::get_if<HttpResponse>(&examined)) {
        pending.respond(response->serialise());
        return;
    }
    const HttpRequest &request = std::get<HttpRequest>(examined);
    if (!request.upgrade) {
        qCDebug(lcHttp) << request.method << request.path;
        HttpResponse response = m_http.handle(request);
        settle(response, request, pending.served());
        pending.respond(response.serialise(), pending.headLength + request.contentLength, response.keepAlive);
        return;
    }
    if (auto refusal = checkUpgrade(request)) {
        pending.respond(refusal->serialise());
        return;
    }
    // From here the socket belongs to the WebSocket side.
    const QByteArray early = pending.data().mid(pending.headLength);
    m_upgrades.adopt(pending.takeStream(), request, early);
}

void Listener::requestTimedOut(RawRequest &request)
{
    if (request.isIdle()) {
        // A kept connection the client did not use again: its idle time is up.
        request.closeIdle();
        return;
    }
    m_metrics.rejection(Rejection::RequestTimeout);
    // Without a finished TLS handshake there is no way to answer.
    if (!request.isSecured()) {
        request.abort();
        return;
    }
    request.respond(HttpResponse::error(408, u"request_timeout"_s, u"request not completed in time"_s).serialise());
}

bool Listener::requestIdle(RawRequest &request)
{
    return admit(request, request.peer(), false);
}

// ---- Qt path ------------------------------------------------------------

void Listener::acceptQt(qintptr descriptor)
{
    QTcpSocket *socket = nullptr;
    if (m_tls) {
        auto *ssl = new QSslSocket(this);
        ssl->setSslConfiguration(*m_sslConfig);
        socket = ssl;
    } else {
        socket = new QTcpSocket(this);
    }
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    auto *pending = new PendingTcp(socket);
    if (!admit(*pending, socket->peerAddress())) {
        socket->abort();
        socket->deleteLater();
        return;
    }
    // Qt 6.4 leaves Nagle on for accepted sockets: ~40 ms extra latency.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    // What a kept connection sends ahead of its answers waits in the kernel,
    // not in an unbounded buffer here.
    socket->setReadBufferSize(m_limits.maxHeadBytes + m_config.maxHttpBodyBytes);

    pending->onDeadline = [this, socket, pending] {
        if (pending->writing) {
            socket->abort(); // a client that does not read its answer cannot hold the socket open
            return;
        }
        if (!pending->isPending())
            return;
        if (pending->isIdle()) {
            closeQuietly(socket, *pending); // a kept connection's idle time is up
            return;
        }
        m_metrics.rejection(Rejection::RequestTimeout);
        respond(socket, pending, HttpResponse::error(408, u"request_timeout"_s, u"request not completed in time"_s));
    };
    pending->startDeadline(m_config.requestTimeoutMs);

    connect(socket, &QTcpSocket::readyRead, this, [this, socket, pending] { readHead(socket, *pending); });
    connect(socket, &QTcpSocket::bytesWritten, this, [this, socket, pending] {
        if (pending->writing && socket->bytesToWrite() == 0)
            answerWritten(socket, *pending);
    });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket, pending] {
        m_pool.release(*pending);
        socket->deleteLater();
    });
    if (m_tls) {
        auto *ssl = static_cast<QSslSocket *>(socket);
        connect(ssl, &QSslSocket::sslErrors, ssl, [ssl](const QList<QSslError> &) { ssl->abort(); });
        ssl->startServerEncryption();
    }
}

void Listener::finishPending(PendingTcp *pending)
{
    if (pending != nullptr) {
        m_pool.release(*pending);
        pending->killDeadline();
    }
}

void Listener::readHead(QTcpSocket *socket, PendingTcp &pending)
{
    if (!pending.isPending())
        return;
    // Peek, do not read: a WebSocket upgrade goes to QWebSocketServer with
    // its head still in the buffer.
    const QByteArray data = socket->peek(m_limits.maxHeadBytes + m_config.maxHttpBodyBytes);
    Examined examined = examine(data, pending.headLength, socket->peerAddress());
    if (std::holds_alternative<NeedMore>(examined))
        return;
    if (auto *response = std::get_if<HttpResponse>(&examined)) {
        respond(socket, &pending, *response);
        return;
    }
    const HttpRequest &request = std::get<HttpRequest>(examined);
    if (!request.upgrade) {
        socket->read(pending.headLength + request.contentLength);
        qCDebug(lcHttp) << request.method << request.path;
        HttpResponse response = m_http.handle(request);
        settle(response, request, pending.served);
        if (response.keepAlive)
            respondAndKeep(socket, pending, response);
        else
            respond(socket, &pending, response);
        return;
    }
    if (auto refusal = checkUpgrade(request)) {
        respond(socket, &pending, *refusal);
        return;
    }
    // From here the socket belongs to the WebSocket side.
    finishPending(&pending);
    disconnect(socket, nullptr, this, nullptr);
    delete &pending;
    socket->setReadBufferSize(0); // QWebSocket reads whole frames
    m_upgrades.adopt(socket, request);
}

void Listener::respondAndKeep(QTcpSocket *socket, PendingTcp &pending, const HttpResponse &response)
{
    finishPending(&pending);
    ++pending.served;
    pending.headLength = 0;
    pending.writing = true;
    // The same limit for the client to take its answer as for a request.
    pending.startDeadline(m_config.requestTimeoutMs);
    socket->write(response.serialise());
}

void Listener::answerWritten(QTcpSocket *socket, PendingTcp &pending)
{
    pending.writing = false;
    pending.killDeadline();
    if (!admit(pending, socket->peerAddress(), false)) {
        closeQuietly(socket, pending);
        return;
    }
    pending.startDeadline(m_config.requestTimeoutMs);
    // A request sent ahead of the answer (pipelined) is answered next.
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(&pending, [this, socket, &pending] { readHead(socket, pending); },
                                  Qt::QueuedConnection);
}

void Listener::closeQuietly(QTcpSocket *socket, PendingTcp &pending)
{
    finishPending(&pending);
    disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
    socket->disconnectFromHost();
    QTimer::singleShot(m_config.requestTimeoutMs, socket, [socket] { socket->abort(); });
}

void Listener::respond(QTcpSocket *socket, PendingTcp *pending, const HttpResponse &response)
{
    finishPending(pending);
    if (pending != nullptr)
        pending->writing = false;
    disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
    socket->write(response.serialise());
    socket->disconnectFromHost();
    // A client that does not read its answer cannot hold the socket open.
    QTimer::singleShot(m_config.requestTimeoutMs, socket, [socket] { socket->abort(); });
}

} // namespace medrelay::server
