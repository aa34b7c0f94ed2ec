#pragma once
// Every setting the server runs with, as one plain value. ConfigLoader builds
// it from defaults, a config file, the environment and the command line; the
// rest of the server only reads it.

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <optional>

namespace medrelay::server {

enum class Mode { Development, Production };

// What carries plain ws:// connections: the lean epoll transport, or
// QWebSocket. TLS connections always use QWebSocket.
enum class Transport { Epoll, Qt };

// Where log records go: auto = the journal when stderr is systemd's journal
// stream, else text; text = lines on stderr; json = JSON lines on stderr.
enum class LogFormat { Auto, Text, Json, Journal };

[[nodiscard]] QString modeName(Mode mode);

struct ServerConfig
{
    Mode mode = Mode::Development;
    QString host = QStringLiteral("localhost");
    quint16 port = 9003;
    QString wsPath = QStringLiteral("/ws");
    int ioThreads = 0; // extra threads carrying ws:// sockets; 0 = all on the main thread
#ifdef Q_OS_LINUX
    Transport transport = Transport::Epoll;
#else
    Transport transport = Transport::Qt;
#endif
    bool debugLogging = false;
    LogFormat logFormat = LogFormat::Auto;
    QString configFile;

    // Limits
    qint64 maxMessageBytes = 64 * 1024;
    qint64 sendQueueLimitBytes = 1024 * 1024;
    int maxConnections = 20000;
    int maxConnectionsPerAddress = 0; // 0 = no per-address cap
    double rateLimitPerSecond = 100;  // 0 = no rate limit
    int rateLimitBurst = 200;
    int maxRoomsPerConnection = 16;
    int maxParticipantsPerRoom = 64;
    qint64 maxHttpHeadBytes = 8 * 1024;
    qint64 maxHttpBodyBytes = 64 * 1024;
    int requestTimeoutMs = 10000; // HTTP request and WebSocket handshake
    // Sockets still sending their request head (or TLS handshake), and how
    // many of them one address (IPv6: one /64) may hold; see net/PendingPool.
    int maxPendingRequests = 4096;
    int maxPendingPerAddress = 256;

    // Timers
    int pingIntervalMs = 15000;
    int missedPongsBeforeClose = 2;
    int idleRoomTimeoutMs = 10 * 60 * 1000;
    int idleSweepIntervalMs = 60 * 1000;
    int drainTimeoutMs = 5000;

    // Security
    QString adminToken;
    bool insecureNoAuth = false;
    QString jwtSecret;
    QString jwtPublicKeyFile;
    QString jwtIssuer;
    QString jwtAudience;
    int jwtLeewaySeconds = 30;
    QString tlsCertFile;
    QString tlsKeyFile;
    QStringList allowedOrigins; // WebSocket upgrades; empty = any Origin
    // Origins allowed to call /stats, /metrics and /admin/* (an operations
    // dashboard). Empty = none: a request that carries an Origin is refused.
    QStringList adminAllowedOrigins;
    QStringList trustedProxies; // reverse proxies whose X-Forwarded-For is believed
    QString dataDir;
    int adminStreamRing = 10000; // changes the admin event stream keeps for resuming consoles (tests set it)
    // Refused admin requests are audited as one count per source address per
    // window, never one record each.
    int auditRefusalWindowMs = 60 * 1000;
    // The keyed audit chain's key; empty: <dataDir>/audit.key, created at
    // first start.
    QString auditKeyFile;
    qint64 auditRotateBytes = 64 * 1024 * 1024; // 0: never by size
    bool auditRotateDaily = true;
    int auditRetentionDays = 0; // 0: keep every file
    int auditBacklogLimit = 50000;
    int auditCheckpointIntervalMs = 30 * 1000;

    // Consultations
    bool waitingRoomByDefault = false;
    QStringList hostRoles{QStringLiteral("doctor"), QStringLiteral("nurse"), QStringLiteral("clinician"),
                          QStringLiteral("admin")};
    QString appointmentRoomPattern = QStringLiteral("appointment_{id}");
    int resumeGraceMs = 15000;        // 0: leaves are announced at once
    int recentChat = 50;              // chat messages in a late joiner's room_state
    qint64 maxChatLength = 0;         // 0: whatever fits in --max-message-size
    qint64 maxConsultationMs = 0;     // 0: no limit (--max-consultation-minutes)
    qint64 idleLogoffMs = 0;          // 0: off (--idle-logoff-minutes)
    qint64 endedRoomRefusalMs = qint64(24) * 3600 * 1000;

    // History (chat and whiteboard, numbered with seq)
    bool historyEnabled = true;
    QString historyKeyFile;           // AES-256-GCM key: history kept encrypted in dataDir
    int historyMaxMessages = 2000;    // per room
    qint64 historyMaxAgeMs = qint64(24) * 3600 * 1000;
    qint64 historyRetentionMs = 0;    // after the consultation ends; 0: deleted at once

    // Cluster mode: instances sharing rooms, presence and history through
    // Redis (redis://[[user]:password@]host[:port][/db]). Empty: one instance.
    QString redisUrl;
    int clusterPresenceTtlMs = 15000; // an instance silent this long is taken for dead
    int clusterOutageMessages = 1000; // stored messages held per room while Redis is out of reach (0: refused)

    // ICE servers for clients' media (ice_servers after room_state)
    QStringList stunUris;             // stun:/stuns: URIs
    QStringList turnUris;             // turn:/turns: URIs; need turnSecret
    QString turnSecret;               // shared with the TURN server (coturn static-auth-secret)
    qint64 turnCredentialLifetimeSeconds = 3600;

    // The demo consultation page and other static files; empty: not served.
    QString webRoot;
    qint64 maxStaticFileBytes = 4 * 1024 * 1024;

    [[nodiscard]] bool tlsEnabled() const { return !tlsCertFile.isEmpty(); }
    [[nodiscard]] bool authEnabled() const { return !jwtSecret.isEmpty() || !jwtPublicKeyFile.isEmpty(); }
    [[nodiscard]] bool clustered() const { return !redisUrl.isEmpty(); }
};

// Defaults that differ by mode (development: localhost, short timeouts,
// verbose logs; production: all interfaces, longer timeouts, quiet logs).
[[nodiscard]] ServerConfig defaultConfig(Mode mode);

// The web root development serves by default: the source tree's
// resources/web when it exists, else the installed share directory, else
// none.
[[nodiscard]] QString developmentWebRoot();

} // namespace medrelay::server
