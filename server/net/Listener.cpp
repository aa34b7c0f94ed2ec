#include "net/Listener.h"

#include <QFile>
#include <QLoggingCategory>
#include <QSslKey>
#include <QSslSocket>
#include <QTimer>

#include <functional>

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
}

QString Listener::enableTls(const QString &certFile, const QString &keyFile)
{
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

    m_sslConfig = std::make_unique<QSslConfiguration>(QSslConfiguration::defaultConfiguration());
    m_sslConfig->setLocalCertificateChain(chain);
    m_sslConfig->setPrivateKey(key);
    m_sslConfig->setProtocol(QSsl::TlsV1_2OrLater);
    m_sslConfig->setPeerVerifyMode(QSslSocket::VerifyNone);
    m_tls = true;
    return {};
}

void Listener::incomingConnection(qintptr descriptor)
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
    const qint64 evictedBefore = m_pool.evictions();
    const bool admitted = m_pool.admit(*pending, socket->peerAddress());
    countEvictions(evictedBefore);
    if (!admitted) {
        m_metrics.rejection(Rejection::TooManyConnections);
        socket->abort();
        socket->deleteLater();
        return;
    }
    // Qt 6.4 leaves Nagle on for accepted sockets: ~40 ms extra latency.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);

    pending->onDeadline = [this, socket, pending] {
        if (!pending->isPending())
            return;
        m_metrics.rejection(Rejection::RequestTimeout);
        respond(socket, pending, HttpResponse::error(408, u"request_timeout"_s, u"request not completed in time"_s));
    };
    pending->startDeadline(m_config.requestTimeoutMs);

    connect(socket, &QTcpSocket::readyRead, this, [this, socket, pending] { readHead(socket, *pending); });
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

void Listener::countEvictions(qint64 before)
{
    for (qint64 n = m_pool.evictions() - before; n > 0; --n)
        m_metrics.rejection(Rejection::PendingEvicted);
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
    int headLen = pending.headLength;
    if (headLen == 0) {
        headLen = findHeadEnd(data);
        if (headLen < 0) {
            if (data.size() >= m_limits.maxHeadBytes) {
                m_metrics.rejection(Rejection::HeadTooLarge);
                respond(socket, &pending, HttpResponse::error(431, u"head_too_large"_s, u"request head too large"_s));
            }
            return;
        }
        pending.headLength = headLen;
    }

    auto parsed = parseRequestHead(QByteArrayView(data).first(headLen), m_limits);
    if (auto *err = std::get_if<HttpParseError>(&parsed)) {
        m_metrics.rejection(err->status == 431 ? Rejection::HeadTooLarge : Rejection::BadRequest);
        respond(socket, &pending, HttpResponse::error(err->status, u"bad_request"_s, err->message));
        return;
    }
    HttpRequest request = std::get<HttpRequest>(std::move(parsed));
    request.peer = m_proxies.clientAddress(socket->peerAddress(), request.header("x-forwarded-for"));

    if (!request.upgrade) {
        if (!request.header("transfer-encoding").isEmpty()) {
            // Admin requests are small: a Content-Length is required.
            m_metrics.rejection(Rejection::BadRequest);
            respond(socket, &pending, HttpResponse::error(411, u"length_required"_s,
                                                u"send the body with Content-Length, not chunked"_s));
            return;
        }
        if (request.contentLength > m_config.maxHttpBodyBytes) {
            m_metrics.rejection(Rejection::BadRequest);
            respond(socket, &pending, HttpResponse::error(413, u"message_too_large"_s, u"request body too large"_s));
            return;
        }
        if (data.size() < headLen + request.contentLength)
            return; // wait for the rest of the body
        request.body = data.mid(headLen, request.contentLength);
        socket->read(headLen + request.contentLength);
    }
    dispatch(socket, pending, request);
}

void Listener::dispatch(QTcpSocket *socket, PendingTcp &pending, const HttpRequest &request)
{
    if (request.upgrade) {
        if (request.path != m_config.wsPath) {
            m_metrics.rejection(Rejection::UpgradeNotFound);
            respond(socket, &pending, HttpResponse::error(404, u"not_found"_s, u"no WebSocket endpoint at this path"_s));
            return;
        }
        // From here the socket belongs to the WebSocket side.
        finishPending(&pending);
        disconnect(socket, nullptr, this, nullptr);
        delete &pending;
        if (auto refusal = m_upgrades.upgrade(socket, request)) {
            connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            respond(socket, nullptr, *refusal);
        }
        return;
    }
    qCDebug(lcHttp) << request.method << request.path;
    respond(socket, &pending, m_http.handle(request));
}

void Listener::respond(QTcpSocket *socket, PendingTcp *pending, const HttpResponse &response)
{
    finishPending(pending);
    disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
    socket->write(response.serialise());
    socket->disconnectFromHost();
    // A client that does not read its answer cannot hold the socket open.
    QTimer::singleShot(m_config.requestTimeoutMs, socket, [socket] { socket->abort(); });
}

} // namespace medrelay::server
