#pragma once
// The composition root: builds every part of the server from a ServerConfig,
// wires them together, listens, and runs the graceful shutdown. It holds the
// parts; it does no parsing, routing or relaying itself.

#include "config/ServerConfig.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QTimer>

#include <memory>

namespace medrelay::store {
class HistoryStore;
}
namespace medrelay::server::ice {
class IceServerIssuer;
}
namespace medrelay::server::web {
class WebRoutes;
}

namespace medrelay::server {

class AdminService;
class AdminStream;
class AuditRecorder;
class Authenticator;
class ConnectionManager;
class EventLog;
class Fanout;
class GrantGate;
class HttpRouter;
class IdleSweeper;
class Listener;
class MessageHandler;
class Metrics;
class RoomHandlers;
class RoomService;

class ServerApp final : public QObject
{
    Q_OBJECT
public:
    explicit ServerApp(ServerConfig config, QObject *parent = nullptr);
    ~ServerApp() override;
    Q_DISABLE_COPY_MOVE(ServerApp)

    // Listens on the configured address; returns an error text, or empty.
    [[nodiscard]] QString start();
    [[nodiscard]] quint16 port() const;
    [[nodiscard]] QHostAddress address() const;
    [[nodiscard]] const ServerConfig &config() const { return m_config; }

    // Graceful shutdown: /health says draining, WebSocket upgrades are
    // refused, every client gets close 1001; finished() once all are gone or
    // the drain timeout passes.
    void beginDrain();
    [[nodiscard]] bool isDraining() const;
    // Rereads the TLS certificate and key (SIGHUP) for new connections; on
    // failure the ones in use stay. Returns an error text, or empty.
    QString reloadTls();
    [[nodiscard]] Listener &listener() const { return *m_listener; }

    [[nodiscard]] Metrics &metrics() const { return *m_metrics; }
    [[nodiscard]] RoomService &rooms() const { return *m_rooms; }
    [[nodiscard]] store::HistoryStore &history() const { return *m_history; }
    [[nodiscard]] ConnectionManager &connections() const { return *m_connections; }
    [[nodiscard]] AdminService &admin() const { return *m_admin; }
    [[nodiscard]] AdminStream &adminStream() const { return *m_adminStream; }
    [[nodiscard]] IdleSweeper &idleSweeper() const { return *m_sweeper; }
    [[nodiscard]] Authenticator &authenticator() const { return *m_auth; }
    [[nodiscard]] EventLog &events() const { return *m_events; }
    // Null when no data directory is configured.
    [[nodiscard]] AuditRecorder *audit() const { return m_audit; }
    // Null when no STUN or TURN servers are configured.
    [[nodiscard]] ice::IceServerIssuer *iceServers() const { return m_ice; }
    [[nodiscard]] web::WebRoutes &web() const { return *m_web; }

Q_SIGNALS:
    // beginDrain() took effect (once): for service managers (STOPPING=1).
    void drainStarted();
    void finished(int exitCode);

private:
    void checkDrained();

    ServerConfig m_config;
    std::unique_ptr<Metrics> m_metrics;
    std::unique_ptr<Fanout> m_fanout;
    std::unique_ptr<store::HistoryStore> m_history;
    QString m_historyError;   // why the configured store could not open
    QString m_historyWarning;
    std::unique_ptr<GrantGate> m_grantGate;
    std::unique_ptr<web::WebRoutes> m_web;
    EventLog *m_events = nullptr;
    RoomService *m_rooms = nullptr;
    ConnectionManager *m_connections = nullptr;
    MessageHandler *m_messages = nullptr;
    Authenticator *m_auth = nullptr;
    AuditRecorder *m_audit = nullptr;
    RoomHandlers *m_roomHandlers = nullptr;
    IdleSweeper *m_sweeper = nullptr;
    AdminService *m_admin = nullptr;
    AdminStream *m_adminStream = nullptr;
    ice::IceServerIssuer *m_ice = nullptr;
    HttpRouter *m_router = nullptr;
    Listener *m_listener = nullptr;
    QTimer m_rateTimer;
    QElapsedTimer m_rateClock;
    QTimer m_drainTimer;
    bool m_finished = false;
};

} // namespace medrelay::server
