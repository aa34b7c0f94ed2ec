#include "realtime/ConnectionManager.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketServer>

Q_DECLARE_LOGGING_CATEGORY(lcConnection)

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

QString newConnectionId()
{
    // Unguessable, so a connection id seen in one room is no handle on it.
    const quint64 r = QRandomGenerator::system()->generate64();
    return u"c"_s + QString::number(r, 36).rightJustified(13, u'0');
}

QString addressKey(const QHostAddress &a)
{
    bool mapped = false;
    const quint32 v4 = a.toIPv4Address(&mapped);
    return mapped ? QHostAddress(v4).toString() : a.toString();
}

} // namespace

ConnectionManager::ConnectionManager(const ServerConfig &config, Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_metrics(metrics)
    , m_wsServer(new QWebSocketServer(u"medrelay"_s, QWebSocketServer::NonSecureMode, this))
{
    m_wsServer->setHandshakeTimeout(std::chrono::milliseconds(config.requestTimeoutMs));
    // The queue is drained on every newConnection; keep it deep so a burst of
    // finished handshakes is never dropped.
    m_wsServer->setMaxPendingConnections(std::numeric_limits<int>::max());
    connect(m_wsServer, &QWebSocketServer::newConnection, this, &ConnectionManager::onNewConnection);

    m_heartbeat.setInterval(config.pingIntervalMs);
    connect(&m_heartbeat, &QTimer::timeout, this, &ConnectionManager::onHeartbeat);
    m_heartbeat.start();
}

ConnectionManager::~ConnectionManager()
{
    // Connections are children; make sure none reports back while we go.
    for (Connection *c : std::as_const(m_connections))
        disconnect(c, nullptr, this, nullptr);
}

std::optional<HttpResponse> ConnectionManager::upgrade(QTcpSocket *socket, const HttpRequest &request)
{
    if (m_draining) {
        m_metrics.rejection(Rejection::Draining);
        return HttpResponse::error(503, u"server_draining"_s, u"the server is shutting down"_s);
    }
    if (!m_config.allowedOrigins.isEmpty()) {
        const QString origin = QString::fromUtf8(request.header("origin"));
        if (!origin.isEmpty() && !m_config.allowedOrigins.contains(origin)) {
            m_metrics.rejection(Rejection::OriginForbidden);
            return HttpResponse::error(403, u"forbidden"_s, u"origin not allowed"_s);
        }
    }
    if (m_sockets >= m_config.maxConnections) {
        m_metrics.rejection(Rejection::TooManyConnections);
        return HttpResponse::error(503, u"too_many_connections"_s, u"connection limit reached"_s);
    }
    const QString address = addressKey(socket->peerAddress());
    if (m_config.maxConnectionsPerAddress > 0 && m_perAddress.value(address) >= m_config.maxConnectionsPerAddress) {
        m_metrics.rejection(Rejection::TooManyFromAddress);
        return HttpResponse::error(429, u"too_many_connections"_s, u"too many connections from this address"_s);
    }

    ++m_perAddress[address];
    ++m_sockets;
    // The slot is held while the TCP socket is connected, handshaking or
    // open. Released on disconnect, not on deletion, which may be deferred.
    connect(socket, &QTcpSocket::disconnected, this, [this, address] { releaseAddress(address); },
            Qt::SingleShotConnection);
    m_wsServer->handleConnection(socket);
    return std::nullopt;
}

void ConnectionManager::releaseAddress(const QString &address)
{
    --m_sockets;
    auto it = m_perAddress.find(address);
    if (it != m_perAddress.end() && --*it <= 0)
        m_perAddress.erase(it);
}

void ConnectionManager::onNewConnection()
{
    // Drain the whole queue: QWebSocketServer drops sockets beyond it.
    while (QWebSocket *ws = m_wsServer->nextPendingConnection()) {
        if (m_draining) {
            ws->close(QWebSocketProtocol::CloseCodeGoingAway, u"server shutting down"_s);
            connect(ws, &QWebSocket::disconnected, ws, &QObject::deleteLater);
            continue;
        }
        ConnectionLimits limits;
        limits.maxMessageBytes = m_config.maxMessageBytes;
        limits.sendQueueLimitBytes = m_config.sendQueueLimitBytes;
        limits.ratePerSecond = m_config.rateLimitPerSecond;
        limits.rateBurst = m_config.rateLimitBurst;
        limits.missedPongsBeforeClose = m_config.missedPongsBeforeClose;

        auto *conn = new Connection(newConnectionId(), ws, limits, m_metrics, this);
        m_connections.insert(conn->connectionId(), conn);
        m_metrics.connectionAccepted();
        connect(conn, &Connection::closed, this, [this](Connection *c) {
            m_connections.remove(c->connectionId());
            Q_EMIT connectionClosed(c);
        });
        qCDebug(lcConnection) << "connected" << conn->connectionId() << conn->remoteAddress();
        Q_EMIT connectionOpened(conn);
    }
}

void ConnectionManager::onHeartbeat()
{
    for (Connection *c : std::as_const(m_connections))
        c->heartbeat();
}

void ConnectionManager::closeAll(int closeCode, const QString &reason)
{
    const auto all = m_connections.values();
    for (Connection *c : all)
        c->closeWith(closeCode, reason);
}

} // namespace medrelay::server
