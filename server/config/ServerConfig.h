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
    QStringList allowedOrigins; // empty = any Origin
    QStringList trustedProxies; // reverse proxies whose X-Forwarded-For is believed
    QString dataDir;

    [[nodiscard]] bool tlsEnabled() const { return !tlsCertFile.isEmpty(); }
    [[nodiscard]] bool authEnabled() const { return !jwtSecret.isEmpty() || !jwtPublicKeyFile.isEmpty(); }
};

// Defaults that differ by mode (development: localhost, short timeouts,
// verbose logs; production: all interfaces, longer timeouts, quiet logs).
[[nodiscard]] ServerConfig defaultConfig(Mode mode);

} // namespace medrelay::server
