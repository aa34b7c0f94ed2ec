#include "app/ServerApp.h"

#include "admin/AdminService.h"
#include "audit/AuditRecorder.h"
#include "auth/Authenticator.h"
#include "events/EventLog.h"
#include "http/HttpRouter.h"
#include "messaging/IdleSweeper.h"
#include "messaging/MembershipHandler.h"
#include "messaging/MessageHandler.h"
#include "messaging/RelayHandler.h"
#include "metrics/Metrics.h"
#include "net/Listener.h"
#include "realtime/ConnectionManager.h"
#include "rooms/Fanout.h"
#include "rooms/RoomRegistry.h"

#include <QElapsedTimer>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcServer, "medrelay.server")

namespace medrelay::server {

using namespace Qt::StringLiterals;

ServerApp::ServerApp(ServerConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_metrics(std::make_unique<Metrics>())
    , m_fanout(std::make_unique<LocalFanout>())
{
    m_events = new EventLog(1000, this);
    m_rooms = new RoomRegistry(m_config.maxParticipantsPerRoom, m_config.maxRoomsPerConnection, this);
    m_connections = new ConnectionManager(m_config, *m_metrics, this);
    m_messages = new MessageHandler(*m_metrics, this);
    m_membership = new MembershipHandler(*m_rooms, *m_fanout, *m_events, this);
    m_relay = new RelayHandler(*m_rooms, *m_fanout, this);
    m_auth = new Authenticator(m_config, *m_metrics, *m_events, this);
    m_auth->registerWith(*m_messages);
    m_membership->registerWith(*m_messages);
    m_relay->registerWith(*m_messages);
    m_sweeper = new IdleSweeper(*m_rooms, *m_membership, m_config.idleRoomTimeoutMs, m_config.idleSweepIntervalMs,
                                this);
    m_admin = new AdminService(m_config, *m_rooms, *m_connections, *m_membership, *m_metrics, *m_events, this);
    m_router = new HttpRouter(m_config, *m_admin, this);
    m_listener = new Listener(m_config, *m_router, *m_connections, *m_metrics, this);

    // One direction: sockets -> connections -> message handler -> handlers.
    connect(m_connections, &ConnectionManager::connectionOpened, this, [this](Connection *c) {
        connect(c, &Connection::messageReceived, m_messages, &MessageHandler::handle);
    });
    connect(m_connections, &ConnectionManager::connectionOpened, m_auth, &Authenticator::onConnectionOpened);
    connect(m_connections, &ConnectionManager::connectionClosed, m_membership,
            &MembershipHandler::onConnectionClosed);
    connect(m_connections, &ConnectionManager::connectionClosed, this, [this] {
        if (isDraining())
            checkDrained();
    });
    connect(m_rooms, &RoomRegistry::roomCreated, m_events,
            [this](const QString &id) { m_events->add(u"room_created"_s, id); });

    m_rateClock.start();
    m_rateTimer.setInterval(1000);
    connect(&m_rateTimer, &QTimer::timeout, this, [this] { m_metrics->tick(m_rateClock.restart()); });
    m_rateTimer.start();

    m_drainTimer.setSingleShot(true);
    connect(&m_drainTimer, &QTimer::timeout, this, [this] {
        qCInfo(lcServer) << "drain timeout reached with" << m_connections->count() << "connection(s) open";
        m_finished = true;
        Q_EMIT finished(0);
    });
}

ServerApp::~ServerApp() = default;

QString ServerApp::start()
{
    if (const QString err = m_auth->initialise(); !err.isEmpty())
        return err;
    if (!m_config.dataDir.isEmpty()) {
        auto opened = security::AuditLog::open(m_config.dataDir);
        if (!opened.log)
            return u"audit log: %1"_s.arg(opened.error);
        m_audit = new AuditRecorder(std::move(opened.log), *m_rooms, this);
        m_audit->observe(*m_connections, *m_auth, *m_events, *m_admin, m_auth->enabled());
        connect(m_router, &HttpRouter::unauthorizedRequest, m_audit, &AuditRecorder::recordAdminAuthFailure);
        qCInfo(lcServer) << "audit log:" << m_audit->filePath();
    }
    if (!m_auth->enabled()) {
        if (m_config.mode == Mode::Production)
            qCWarning(lcServer) << "INSECURE: client authentication is off (--insecure-no-auth): identities are "
                                   "whatever clients claim";
        else
            qCWarning(lcServer) << "no JWT key configured: identities come from client messages (development only)";
    }
    if (m_config.adminToken.isEmpty())
        qCWarning(lcServer) << "no admin token configured: /stats, /metrics and /admin/* are open (development only)";
    if (m_config.tlsEnabled()) {
        const QString err = m_listener->enableTls(m_config.tlsCertFile, m_config.tlsKeyFile);
        if (!err.isEmpty())
            return err;
    }
    const QHostAddress address = m_config.host == u"localhost"_s ? QHostAddress(QHostAddress::LocalHost)
                                                                 : QHostAddress(m_config.host);
    // Qt's default backlog of 50 drops SYNs in a connection storm; clients
    // then retry only after 1 s, 3 s, ...
    m_listener->setListenBacklogSize(4096);
    if (!m_listener->listen(address, m_config.port))
        return u"cannot listen on %1:%2: %3"_s.arg(m_config.host).arg(m_config.port).arg(m_listener->errorString());
    return {};
}

quint16 ServerApp::port() const
{
    return m_listener->serverPort();
}

QHostAddress ServerApp::address() const
{
    return m_listener->serverAddress();
}

QString ServerApp::reloadTls()
{
    if (!m_config.tlsEnabled())
        return {};
    const QString err = m_listener->enableTls(m_config.tlsCertFile, m_config.tlsKeyFile);
    if (err.isEmpty())
        qCInfo(lcServer) << "TLS certificate reloaded";
    else
        qCWarning(lcServer) << "TLS certificate not reloaded, keeping the one in use:" << err;
    return err;
}

bool ServerApp::isDraining() const
{
    return m_admin->isDraining();
}

void ServerApp::beginDrain()
{
    if (isDraining())
        return;
    qCInfo(lcServer) << "draining:" << m_connections->count() << "connection(s), timeout" << m_config.drainTimeoutMs
                     << "ms";
    m_admin->setDraining(true);
    m_connections->setDraining(true);
    m_connections->closeAll(protocol::CloseCode::GoingAway, u"server shutting down"_s);
    m_drainTimer.start(m_config.drainTimeoutMs);
    QMetaObject::invokeMethod(this, &ServerApp::checkDrained, Qt::QueuedConnection);
}

void ServerApp::checkDrained()
{
    if (m_finished || m_connections->count() > 0)
        return;
    m_finished = true;
    m_drainTimer.stop();
    qCInfo(lcServer) << "all connections closed";
    Q_EMIT finished(0);
}

} // namespace medrelay::server
