#pragma once
// Owns every client WebSocket: admits upgrades within the connection caps,
// completes the handshake (itself for the epoll transport, plain or TLS;
// through QWebSocketServer for the qt transport), wraps each socket in a
// Connection, runs the heartbeat, and closes connections on request.

#include "config/ServerConfig.h"
#include "net/ClientAddress.h"
#include "net/RequestHandlers.h"
#include "realtime/Connection.h"

#include <QHash>
#include <QSet>

#include <functional>
#include <QObject>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QWebSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace medrelay::transport {
class EpollPoller;
}

namespace medrelay::server {

class ConnectionManager final : public QObject, public UpgradeHandler, private Connection::Owner
{
    Q_OBJECT
public:
    ConnectionManager(const ServerConfig &config, Metrics &metrics, QObject *parent = nullptr);
    ~ConnectionManager() override;
    Q_DISABLE_COPY_MOVE(ConnectionManager)

    std::optional<HttpResponse> check(const HttpRequest &request) override;
    void adopt(QTcpSocket *socket, const HttpRequest &request) override;
    void adopt(transport::Stream stream, const HttpRequest &request, const QByteArray &early) override;

    [[nodiscard]] int count() const { return static_cast<int>(m_connections.size()); }
    [[nodiscard]] Connection *find(const QString &connectionId) const { return m_connections.value(connectionId); }
    [[nodiscard]] QList<Connection *> connections() const { return m_connections.values(); }

    // Admin event streams (/admin/ws): who may open one (the admin API's own
    // Origin and token rules), checked before the handshake.
    using AdminGate = std::function<std::optional<HttpResponse>(const HttpRequest &)>;
    void setAdminGate(AdminGate gate) { m_adminGate = std::move(gate); }
    [[nodiscard]] int adminStreamCount() const { return static_cast<int>(m_adminStreams.size()); }

    // Stops admitting new WebSockets (graceful shutdown).
    void setDraining(bool draining) { m_draining = draining; }
    void closeAll(int closeCode, const QString &reason);

Q_SIGNALS:
    void connectionOpened(medrelay::server::Connection *connection);
    // A client's message, for the MessageHandler (one connection for all
    // clients, not one per client).
    void messageReceived(medrelay::server::Connection *connection, const QByteArray &utf8);
    void connectionClosed(medrelay::server::Connection *connection);
    // An admin event stream: not a client, in no room, counted apart.
    void adminStreamOpened(medrelay::server::Connection *connection);

private:
    [[nodiscard]] QHostAddress clientOf(const QWebSocket &ws) const;
    void onNewConnection();
    // `counted`: whether the connection holds a per-address count (its
    // remoteAddress()), released when it closes.
    Connection *track(ClientSocket *socket, const QHostAddress &clientAddress, bool counted = false);
    Connection *trackAdmin(ClientSocket *socket, const QHostAddress &clientAddress);
    // Connection::Owner, for clients
    void connectionMessage(Connection *connection, const QByteArray &utf8) override;
    void connectionEnded(Connection *connection) override;
    // And for consoles' event streams, which only listen: what they send
    // goes nowhere, without a lookup on the clients' path.
    class AdminStreamOwner final : public Connection::Owner
    {
    public:
        explicit AdminStreamOwner(ConnectionManager &manager) : m_manager(manager) {}
        void connectionMessage(Connection *, const QByteArray &) override {}
        void connectionEnded(Connection *connection) override;

    private:
        ConnectionManager &m_manager;
    };
    [[nodiscard]] static bool isAdminStream(const QString &path);
    [[nodiscard]] ConnectionLimits limits() const;
    void onHeartbeat();
    void releaseAddress(const QString &address);

    const ServerConfig &m_config;
    Metrics &m_metrics;
    AdminGate m_adminGate;
    QHash<QString, Connection *> m_adminStreams;
    QWebSocketServer *m_wsServer = nullptr;
    TrustedProxies m_proxies;
    transport::EpollPoller *m_poller = nullptr; // null when the qt transport is configured
    class IoThreads *m_io = nullptr;            // null without --io-threads
    QTimer m_heartbeat;
    AdminStreamOwner m_adminStreamOwner{*this};
    QHash<QString, Connection *> m_connections;
    QSet<Connection *> m_counted; // those holding a per-address count
    QHash<QString, int> m_perAddress; // open and handshaking sockets by address
    int m_sockets = 0; // handshaking and open
    bool m_draining = false;
};

} // namespace medrelay::server
