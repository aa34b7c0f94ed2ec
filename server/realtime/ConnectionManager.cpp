#include "realtime/ConnectionManager.h"

#include "adminapi/AdminTypes.h"

#include "realtime/EpollClientSocket.h"
#include "realtime/IoThreads.h"
#include "realtime/QtClientSocket.h"
#include "transport/EpollPoller.h"
#include "transport/WebSocketCodec.h"
#include "transport/WebSocketConnection.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketServer>


Q_DECLARE_LOGGING_CATEGORY(lcConnection)

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxAdminStreams = 64;

QString newConnectionId()
{
    // Unguessable, so a connection id seen in one room is no handle on it.
    const quint64 r = QRandomGenerator::system()->generate64();
    return u"c"_s + QString::number(r, 36).rightJustified(13, u'0');
}

// RFC 6455 section 4.2.1: what a valid opening handshake must carry.
std::optional<HttpResponse> checkHandshake(const HttpRequest &r)
{
    if (r.method != "GET")
        return HttpResponse::error(405, u"method_not_allowed"_s, u"WebSocket upgrades use GET"_s);
    bool connectionUpgrade = false;
    for (const QByteArray &token : r.header("connection").split(',')) {
        if (token.trimmed().toLower() == "upgrade")
            connectionUpgrade = true;
    }
    if (!connectionUpgrade)
        return HttpResponse::error(400, u"bad_request"_s, u"Connection: Upgrade is required"_s);
    if (r.header("sec-websocket-version").trimmed() != "13") {
        HttpResponse resp = HttpResponse::error(426, u"bad_request"_s, u"only WebSocket version 13 is supported"_s);
        resp.extraHeaders.append(qMakePair(QByteArray("Sec-WebSocket-Version"), QByteArray("13")));
        return resp;
    }
    const QByteArray key = r.header("sec-websocket-key").trimmed();
    const auto decoded = QByteArray::fromBase64Encoding(key, QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() != 16)
        return HttpResponse::error(400, u"bad_request"_s, u"Sec-WebSocket-Key must be 16 bytes in base64"_s);
    return std::nullopt;
}

} // namespace

ConnectionManager::ConnectionManager(const ServerConfig &config, Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_metrics(metrics)
    , m_wsServer(new QWebSocketServer(u"medrelay"_s, QWebSocketServer::NonSecureMode, this))
    , m_proxies(config.trustedProxies)
{
    m_wsServer->setHandshakeTimeout(std::chrono::milliseconds(config.requestTimeoutMs));
    // The queue is drained on every newConnection; keep it deep so a burst of
    // finished handshakes is never dropped.
    m_wsServer->setMaxPendingConnections(std::numeric_limits<int>::max());
    connect(m_wsServer, &QWebSocketServer::newConnection, this, &ConnectionManager::onNewConnection);

#ifdef Q_OS_LINUX
    if (config.transport == Transport::Epoll) {
        m_poller = new transport::EpollPoller(this);
        if (!m_poller->isValid()) {
            qCWarning(lcConnection) << "epoll transport unavailable, using QWebSocket";
            delete m_poller;
            m_poller = nullptr;
        }
        if (m_poller && config.ioThreads > 0)
            m_io = new IoThreads(config.ioThreads, this);
    }
#endif

    m_heartbeat.setInterval(config.pingIntervalMs);
    connect(&m_heartbeat, &QTimer::timeout, this, &ConnectionManager::onHeartbeat);
    m_heartbeat.start();
}

ConnectionManager::~ConnectionManager()
{
    // Connections are children, but they must be gone before the I/O threads
    // they may use, consoles' event streams too (a socket carried by a worker
    // says goodbye to it as it goes). A Connection reports to its owner from
    // the event loop only, never while it is deleted.
    qDeleteAll(m_connections);
    m_connections.clear();
    qDeleteAll(m_adminStreams);
    m_adminStreams.clear();
    delete m_io;
}

bool ConnectionManager::isAdminStream(const QString &path)
{
    return path == QLatin1StringView(adminapi::Path::AdminStream);
}

std::optional<HttpResponse> ConnectionManager::check(const HttpRequest &request)
{
    if (m_draining) {
        m_metrics.rejection(Rejection::Draining);
        return HttpResponse::error(503, u"server_draining"_s, u"the server is shutting down"_s);
    }
    if (isAdminStream(request.path)) {
        if (!m_adminGate)
            return HttpResponse::error(404, u"not_found"_s, u"no admin event stream on this server"_s);
        if (auto refusal = m_adminGate(request))
            return refusal;
        // A few consoles, not thousands: the snapshot each gets costs.
        if (m_adminStreams.size() >= kMaxAdminStreams)
            return HttpResponse::error(503, u"too_many_connections"_s, u"too many admin event streams"_s);
        if (auto refusal = checkHandshake(request)) {
            m_metrics.rejection(Rejection::BadRequest);
            return refusal;
        }
        return std::nullopt;
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
    // The Listener already resolved the client behind any trusted proxy.
    const QString address = displayAddress(request.peer);
    if (m_config.maxConnectionsPerAddress > 0 && m_perAddress.value(address) >= m_config.maxConnectionsPerAddress) {
        m_metrics.rejection(Rejection::TooManyFromAddress);
        return HttpResponse::error(429, u"too_many_connections"_s, u"too many connections from this address"_s);
    }
    if (auto refusal = checkHandshake(request)) {
        m_metrics.rejection(Rejection::BadRequest);
        return refusal;
    }
    return std::nullopt;
}

void ConnectionManager::adopt(QTcpSocket *socket, const HttpRequest &request)
{
    if (isAdminStream(request.path)) {
        m_wsServer->handleConnection(socket); // tracked in onNewConnection
        return;
    }
    const QString address = displayAddress(request.peer);
    ++m_perAddress[address];
    ++m_sockets;
    // The slot is held while the TCP socket is connected, handshaking or
    // open. Released on disconnect, not on deletion, which may be deferred.
    connect(socket, &QTcpSocket::disconnected, this, [this, address] { releaseAddress(address); },
            Qt::SingleShotConnection);
    m_wsServer->handleConnection(socket);
}

void ConnectionManager::connectionMessage(Connection *connection, const QByteArray &utf8)
{
    Q_EMIT messageReceived(connection, utf8);
}

void ConnectionManager::AdminStreamOwner::connectionEnded(Connection *connection)
{
    m_manager.m_adminStreams.remove(connection->connectionId());
}

void ConnectionManager::connectionEnded(Connection *connection)
{
    m_connections.remove(connection->connectionId());
    Q_EMIT connectionClosed(connection);
    if (m_counted.remove(connection))
        releaseAddress(connection->remoteAddress());
}

void ConnectionManager::releaseAddress(const QString &address)
{
    --m_sockets;
    auto it = m_perAddress.find(address);
    if (it != m_perAddress.end() && --*it <= 0)
        m_perAddress.erase(it);
}

void ConnectionManager::adopt(transport::Stream stream, const HttpRequest &request, const QByteArray &early)
{
    if (!m_poller) {
        // The Listener only takes the lean path when the transport is epoll.
        qCWarning(lcConnection) << "lean upgrade without the epoll transport";
        return;
    }
    transport::ConnectionLimits tl;
    tl.maxFrameSize = m_config.maxMessageBytes;
    tl.maxMessageSize = m_config.maxMessageBytes;
    const QByteArray accepted =
        transport::WebSocketCodec::handshakeResponse(request.header("sec-websocket-key").trimmed());
    const RequestTarget url(request.path, request.query);

    ClientSocket *clientSocket = nullptr;
    if (m_io) {
        clientSocket = new ThreadedClientSocket(m_io->next(), std::move(stream), early, tl, accepted, request.peer, url);
    } else {
        auto *ws = new transport::WebSocketConnection(*m_poller, std::move(stream), early, tl);
        ws->sendFrame(accepted);
        clientSocket = new EpollClientSocket(ws, url);
    }
    if (isAdminStream(request.path)) {
        trackAdmin(clientSocket, request.peer);
        return;
    }
    const QString address = displayAddress(request.peer);
    ++m_perAddress[address];
    ++m_sockets;
    track(clientSocket, request.peer, true);
}

ConnectionLimits ConnectionManager::limits() const
{
    ConnectionLimits l;
    l.maxMessageBytes = m_config.maxMessageBytes;
    l.sendQueueLimitBytes = m_config.sendQueueLimitBytes;
    l.ratePerSecond = m_config.rateLimitPerSecond;
    l.rateBurst = m_config.rateLimitBurst;
    l.missedPongsBeforeClose = m_config.missedPongsBeforeClose;
    return l;
}

QHostAddress ConnectionManager::clientOf(const QWebSocket &ws) const
{
    return m_proxies.clientAddress(ws.peerAddress(), ws.request().rawHeader("X-Forwarded-For"));
}

Connection *ConnectionManager::track(ClientSocket *socket, const QHostAddress &clientAddress, bool counted)
{
    auto *conn = new Connection(newConnectionId(), socket, clientAddress, limits(), m_metrics, this, this);
    m_connections.insert(conn->connectionId(), conn);
    if (counted)
        m_counted.insert(conn);
    m_metrics.connectionAccepted();
    qCDebug(lcConnection) << "connected" << conn->connectionId() << conn->remoteAddress();
    Q_EMIT connectionOpened(conn);
    return conn;
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
        if (isAdminStream(ws->requestUrl().path()))
            trackAdmin(new QtClientSocket(ws, m_config.maxMessageBytes), clientOf(*ws));
        else
            track(new QtClientSocket(ws, m_config.maxMessageBytes), clientOf(*ws));
    }
}

Connection *ConnectionManager::trackAdmin(ClientSocket *socket, const QHostAddress &clientAddress)
{
    ConnectionLimits l = limits();
    // A snapshot of thousands of rooms is sent at once; consoles send nothing.
    l.sendQueueLimitBytes = std::max<qint64>(l.sendQueueLimitBytes, 16 * 1024 * 1024);
    auto *conn = new Connection(newConnectionId(), socket, clientAddress, l, m_metrics, &m_adminStreamOwner, this);
    m_adminStreams.insert(conn->connectionId(), conn);
    qCInfo(lcConnection) << "admin event stream" << conn->connectionId() << conn->remoteAddress();
    Q_EMIT adminStreamOpened(conn);
    return conn;
}

void ConnectionManager::onHeartbeat()
{
    for (Connection *c : m_adminStreams.values())
        c->heartbeat();
    const qint64 logoffMs = m_config.idleLogoffMs;
    const auto all = m_connections.values();
    for (Connection *c : all) {
        // Automatic logoff (HIPAA 164.312(a)(2)(iii)): no message for too long.
        if (logoffMs > 0 && c->idleMs() >= logoffMs) {
            c->closeWith(protocol::CloseCode::IdleLogoff, u"idle logoff"_s);
            continue;
        }
        c->heartbeat();
    }
}

void ConnectionManager::closeAll(int closeCode, const QString &reason)
{
    // Admin event streams stay: the consoles watch the drain.
    const auto all = m_connections.values();
    for (Connection *c : all)
        c->closeWith(closeCode, reason);
}

} // namespace medrelay::server
