#include "app/ServerApp.h"

#include "admin/AdminService.h"
#include "admin/AdminStream.h"
#include "audit/AuditRecorder.h"
#include "auth/Authenticator.h"
#include "cluster/ClusterBus.h"
#include "cluster/RedisHistoryStore.h"
#include "consultation/Fanout.h"
#include "consultation/IdleSweeper.h"
#include "consultation/RoomService.h"
#include "events/EventLog.h"
#include "http/HttpRouter.h"
#include "ice/IceServerIssuer.h"
#include "messaging/GrantGate.h"
#include "messaging/MessageHandler.h"
#include "messaging/RoomHandlers.h"
#include "metrics/Metrics.h"
#include "net/Listener.h"
#include "realtime/ConnectionManager.h"
#include "store/HistoryCipher.h"
#include "store/HistoryStoreFactory.h"
#include "store/MemoryHistoryStore.h"
#include "web/WebRoutes.h"

#include <QElapsedTimer>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcServer, "medrelay.server")

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

RoomConfig roomConfig(const ServerConfig &c)
{
    RoomConfig r;
    r.maxParticipantsPerRoom = c.maxParticipantsPerRoom;
    r.maxRoomsPerConnection = c.maxRoomsPerConnection;
    r.waitingRoomByDefault = c.waitingRoomByDefault;
    r.resumeGraceMs = c.resumeGraceMs;
    r.recentChat = c.recentChat;
    r.maxWhiteboard = c.historyMaxMessages;
    r.maxReplay = c.historyMaxMessages;
    r.endedRefusalMs = c.endedRoomRefusalMs;
    r.historyRetentionMs = c.historyRetentionMs;
    r.maxConsultationMs = c.maxConsultationMs;
    r.heldBytesLimit = c.sendQueueLimitBytes;
    r.outageMessages = c.clusterOutageMessages;
    r.presenceTtlMs = c.clusterPresenceTtlMs;
    return r;
}

AccessRules accessRules(const ServerConfig &c)
{
    AccessRules a;
    a.authEnabled = c.authEnabled();
    a.appointmentRoomPattern = c.appointmentRoomPattern;
    a.hostRoles = c.hostRoles;
    return a;
}

protocol::ValidationLimits validationLimits(const ServerConfig &c)
{
    protocol::ValidationLimits l;
    l.maxChatLength = c.maxChatLength > 0 ? c.maxChatLength : c.maxMessageBytes;
    return l;
}

ice::IceConfig iceConfig(const ServerConfig &c)
{
    ice::IceConfig i;
    i.stunUris = c.stunUris;
    i.turnUris = c.turnUris;
    i.turnSecret = c.turnSecret.toUtf8();
    i.credentialLifetimeSeconds = c.turnCredentialLifetimeSeconds;
    return i;
}

// Opens the configured history store. Without a key, history stays in
// memory (development only: production refuses that configuration).
store::OpenedHistory openHistory(const ServerConfig &c)
{
    store::HistoryConfig h;
    h.backend = !c.historyEnabled            ? store::HistoryBackend::Off
                : !c.historyKeyFile.isEmpty() ? store::HistoryBackend::Sqlite
                                             : store::HistoryBackend::Memory;
    h.dataDir = c.dataDir;
    h.keyFile = c.historyKeyFile;
    h.limits.maxMessagesPerRoom = c.historyMaxMessages;
    h.limits.maxAgeMs = c.historyMaxAgeMs;
    store::OpenedHistory opened = store::openHistoryStore(h);
    if (!opened.store) {
        // Keep the server whole so start() can report why it cannot run.
        opened.store = std::make_unique<store::MemoryHistoryStore>(store::MemoryHistoryStore::Options{h.limits, 256, 60000, {}});
        if (opened.error.isEmpty())
            opened.error = u"cannot open the history store"_s;
        opened.error = u"history: "_s + opened.error;
    } else {
        opened.error.clear();
    }
    return opened;
}

// Cluster mode: the history in Redis, shared by the instances (also with
// --history off, which keeps no bodies but still numbers and deduplicates
// across instances). The key, when given, also opens the stored messages
// that arrive on room channels: `busCipher` gets a cipher of its own.
store::OpenedHistory openClusterHistory(const ServerConfig &c, std::unique_ptr<store::HistoryCipher> &busCipher,
                                        cluster::RedisHistoryStore *&redis)
{
    store::OpenedHistory out;
    const auto fallback = [&](const QString &error) {
        out.store = std::make_unique<store::MemoryHistoryStore>();
        out.error = u"history: "_s + error;
        return std::move(out);
    };
    const auto url = cluster::RedisUrl::parse(c.redisUrl);
    if (const QString *error = std::get_if<QString>(&url))
        return fallback(u"--redis %1"_s.arg(*error));
    std::unique_ptr<store::HistoryCipher> cipher;
    QStringList warnings;
    if (!c.historyKeyFile.isEmpty()) {
        store::HistoryCipher::LoadedKey key = store::HistoryCipher::loadKeyFile(c.historyKeyFile);
        if (!key.error.isEmpty())
            return fallback(key.error);
        if (!key.warning.isEmpty())
            warnings.append(key.warning);
        QString error;
        cipher = store::HistoryCipher::create(key.key, &error);
        busCipher = store::HistoryCipher::create(key.key, &error);
        key.key.fill('\0');
        if (!cipher || !busCipher)
            return fallback(error);
    }
    cluster::RedisHistoryStore::Options o;
    o.url = std::get<cluster::RedisUrl>(url);
    o.limits.maxMessagesPerRoom = c.historyEnabled ? c.historyMaxMessages : 0;
    o.limits.maxAgeMs = c.historyMaxAgeMs;
    cluster::RedisHistoryStore::Opened opened = cluster::RedisHistoryStore::open(std::move(o), std::move(cipher));
    if (!opened.store)
        return fallback(opened.error);
    if (!opened.warning.isEmpty())
        warnings.append(opened.warning);
    redis = opened.store.get();
    out.store = std::move(opened.store);
    out.warning = warnings.join(u"; "_s);
    return out;
}

} // namespace

ServerApp::ServerApp(ServerConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_metrics(std::make_unique<Metrics>())
    , m_fanout(std::make_unique<LocalFanout>())
{
    std::unique_ptr<store::HistoryCipher> busCipher;
    cluster::RedisHistoryStore *redisHistory = nullptr;
    store::OpenedHistory history = m_config.clustered() ? openClusterHistory(m_config, busCipher, redisHistory)
                                                        : openHistory(m_config);
    m_history = std::move(history.store);
    m_historyError = history.error;
    m_historyWarning = history.warning;
    m_events = new EventLog(1000, this);
    m_rooms = new RoomService(roomConfig(m_config), AccessPolicy(accessRules(m_config)), *m_history, *m_fanout, this);
    m_rooms->addObserver(m_events);
    if (redisHistory) {
        cluster::ClusterBus::Options o;
        o.url = redisHistory->url();
        o.presenceTtlMs = m_config.clusterPresenceTtlMs;
        o.resumeGraceMs = m_config.resumeGraceMs;
        m_cluster = new cluster::ClusterBus(std::move(o), *redisHistory, std::move(busCipher), this);
        m_rooms->setClusterLink(m_cluster);
    }
    m_connections = new ConnectionManager(m_config, *m_metrics, this);
    m_messages = new MessageHandler(*m_metrics, validationLimits(m_config), this);
    m_auth = new Authenticator(m_config, *m_metrics, *m_events, this);
    m_grantGate = std::make_unique<GrantGate>(m_rooms->access());
    m_roomHandlers = new RoomHandlers(*m_rooms, this);
    // Gates in order: a verified token first, then the token's room grants.
    m_auth->registerWith(*m_messages);
    m_messages->addGate(m_grantGate.get());
    m_roomHandlers->registerWith(*m_messages);
    m_sweeper = new IdleSweeper(*m_rooms, m_config.idleRoomTimeoutMs, m_config.idleSweepIntervalMs, this);
    m_admin = new AdminService(m_config, *m_rooms, *m_connections, *m_metrics, *m_events, this);
    m_router = new HttpRouter(m_config, *m_admin, this);
    m_adminStream = new AdminStream(*m_rooms, *m_admin, *m_connections, m_config.adminStreamRing, this);
    // Consoles see the rooms served here whole, whichever instance changed them.
    m_rooms->addObserver(m_adminStream, RoomService::ObserverScope::WholeCluster);
    if (m_cluster) {
        m_admin->setCluster(m_cluster);
        m_cluster->setFigures([this] {
            return cluster::ClusterBus::Figures{m_connections->count(), static_cast<int>(m_rooms->count())};
        });
        // An administrator on another instance closes one of ours.
        connect(m_cluster, &cluster::ClusterBus::disconnectRequested, this,
                [this](const QString &connectionId, const QString &reason) {
                    if (Connection *c = m_connections->find(connectionId)) {
                        m_metrics->rejection(Rejection::Kicked);
                        c->closeWith(protocol::CloseCode::Kicked, reason);
                    }
                });
        connect(m_cluster, &cluster::ClusterBus::availabilityChanged, m_adminStream, [this] { m_adminStream->tick(); });
    }
    m_connections->setAdminGate([this](const HttpRequest &request) { return m_router->checkAdmin(request); });
    connect(m_connections, &ConnectionManager::adminStreamOpened, m_adminStream, &AdminStream::subscribe);
    m_web = std::make_unique<web::WebRoutes>(m_config);
    m_router->setExtraRoutes(m_web.get());
    // Each member's own ICE servers (and TURN credentials) after room_state.
    if (const ice::IceConfig ice = iceConfig(m_config); ice.enabled()) {
        m_ice = new ice::IceServerIssuer(ice, *m_rooms, this);
        m_rooms->setJoinCompanion(m_ice);
        m_rooms->addObserver(m_ice);
    }
    m_listener = new Listener(m_config, *m_router, *m_connections, *m_metrics, this);

    // One direction: sockets -> connections -> message handler -> handlers
    // -> room service.
    connect(m_connections, &ConnectionManager::messageReceived, m_messages, &MessageHandler::handle);
    connect(m_connections, &ConnectionManager::connectionOpened, m_auth, &Authenticator::onConnectionOpened);
    connect(m_connections, &ConnectionManager::connectionClosed, m_rooms,
            [this](Connection *c) { m_rooms->sessionClosed(c, c->resumable()); });
    connect(m_auth, &Authenticator::identityChanged, m_rooms, [this](Connection *c) { m_rooms->identityChanged(c); });
    connect(m_connections, &ConnectionManager::connectionClosed, this, [this] {
        if (isDraining())
            checkDrained();
    });

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

ServerApp::~ServerApp()
{
    // Sockets and rooms go before the history store they report to, and
    // before the cluster link.
    delete m_listener;
    delete m_connections;
    delete m_rooms;
    delete m_cluster;
}

QString ServerApp::start()
{
    if (!m_historyError.isEmpty())
        return m_historyError;
    if (!m_historyWarning.isEmpty())
        qCWarning(lcServer).noquote() << "history:" << m_historyWarning;
    if (const QString err = m_auth->initialise(); !err.isEmpty())
        return err;
    if (!m_config.dataDir.isEmpty()) {
        const auto opened = AuditRecorder::open(m_config, this);
        if (!opened.recorder)
            return u"audit log: %1"_s.arg(opened.error);
        m_audit = opened.recorder;
        m_audit->observe(*m_connections, *m_auth, *m_admin, m_auth->enabled());
        m_rooms->addObserver(m_audit);
        connect(m_router, &HttpRouter::adminRequestRefused, m_audit, &AuditRecorder::recordAdminRefusal);
        m_admin->setAuditHealthSource([audit = m_audit] { return audit->health(); });
        qCInfo(lcServer) << "audit log:" << m_audit->filePath();
        for (const QString &note : opened.notes)
            qCInfo(lcServer).noquote() << note;
    }
    if (!m_auth->enabled()) {
        if (m_config.mode == Mode::Production)
            qCWarning(lcServer) << "INSECURE: client authentication is off (--insecure-no-auth): identities are "
                                   "whatever clients claim";
        else
            qCWarning(lcServer) << "no JWT key configured: identities come from client messages (development only)";
    }
    if (m_cluster && m_config.historyKeyFile.isEmpty())
        qCWarning(lcServer) << "no history key: consultation history is kept in Redis unencrypted (development only)";
    else if (m_cluster)
        qCInfo(lcServer) << "history: encrypted, in Redis shared by the cluster";
    else if (m_config.historyEnabled && m_config.historyKeyFile.isEmpty())
        qCWarning(lcServer) << "no history key: consultation history is kept in memory only and lost on restart";
    else if (m_config.historyEnabled)
        qCInfo(lcServer) << "history: encrypted in" << m_config.dataDir;
    if (m_config.adminToken.isEmpty())
        qCWarning(lcServer) << "no admin token configured: /stats, /metrics and /admin/* are open (development only)";
    if (!m_web->webRoot().isEmpty())
        qCInfo(lcServer) << "web root:" << m_web->webRoot();
    if (m_web->devTokensEnabled())
        qCWarning(lcServer) << "development token endpoint /dev/token is on: anyone who reaches this server can "
                               "get a client token (development only)";
    if (m_ice)
        qCInfo(lcServer) << "ice servers: stun" << m_config.stunUris.size() << "turn" << m_config.turnUris.size()
                         << "credential lifetime" << m_config.turnCredentialLifetimeSeconds << "s";
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
    if (m_cluster) {
        m_cluster->setInstanceName(u"%1:%2"_s.arg(m_config.host).arg(port()));
        m_cluster->start();
    }
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
    m_adminStream->tick(); // consoles learn of the drain at once
    m_connections->setDraining(true);
    Q_EMIT drainStarted();
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
