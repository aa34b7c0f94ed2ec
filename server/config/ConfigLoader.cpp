#include "config/ConfigLoader.h"

#include "cluster/RedisUrl.h"
#include "consultation/AccessPolicy.h"
#include "net/ClientAddress.h"

#include <medrelay/Version.h>

#include <QCommandLineParser>
#include <QFileInfo>
#include <QSettings>

#include <algorithm>
#include <cmath>
#include <functional>

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

using Apply = std::function<std::optional<QString>(ServerConfig &, const QString &)>;

// One configurable setting: its INI key (also the command-line option name),
// its environment variable, and how a text value is checked and applied.
struct Setting
{
    QString key;
    QString env;
    QString valueName; // empty for a flag
    QString help;
    Apply apply;
};

std::optional<QString> intIn(const QString &v, qint64 lo, qint64 hi, qint64 &out)
{
    bool ok = false;
    const qint64 n = v.trimmed().toLongLong(&ok);
    if (!ok || n < lo || n > hi)
        return u"must be an integer from %1 to %2"_s.arg(lo).arg(hi);
    out = n;
    return std::nullopt;
}

std::optional<QString> secondsToMs(const QString &v, double lo, double hi, int &out)
{
    bool ok = false;
    const double s = v.trimmed().toDouble(&ok);
    if (!ok || !std::isfinite(s) || s < lo || s > hi)
        return u"must be a number of seconds from %1 to %2"_s.arg(lo).arg(hi);
    out = static_cast<int>(std::lround(s * 1000));
    return std::nullopt;
}

std::optional<QString> boolFrom(const QString &v, bool &out)
{
    const QString s = v.trimmed().toLower();
    if (s.isEmpty() || s == "1"_L1 || s == "true"_L1 || s == "yes"_L1 || s == "on"_L1) {
        out = true;
        return std::nullopt;
    }
    if (s == "0"_L1 || s == "false"_L1 || s == "no"_L1 || s == "off"_L1) {
        out = false;
        return std::nullopt;
    }
    return u"must be true or false"_s;
}

template<typename T>
Apply intSetting(T ServerConfig::*field, qint64 lo, qint64 hi)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        qint64 n = 0;
        if (auto e = intIn(v, lo, hi, n))
            return e;
        c.*field = static_cast<T>(n);
        return std::nullopt;
    };
}

Apply secondsSetting(int ServerConfig::*field, double lo, double hi)
{
    return [=](ServerConfig &c, const QString &v) { return secondsToMs(v, lo, hi, c.*field); };
}

// Whole seconds, kept in milliseconds (for spans longer than an int holds).
Apply longSecondsSetting(qint64 ServerConfig::*field, qint64 lo, qint64 hi)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        qint64 n = 0;
        if (auto e = intIn(v, lo, hi, n))
            return e;
        c.*field = n * 1000;
        return std::nullopt;
    };
}

// Whole minutes, kept in milliseconds.
Apply minutesSetting(qint64 ServerConfig::*field, qint64 maxMinutes)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        qint64 n = 0;
        if (auto e = intIn(v, 0, maxMinutes, n))
            return e;
        c.*field = n * 60 * 1000;
        return std::nullopt;
    };
}

Apply stringSetting(QString ServerConfig::*field, qsizetype maxLen = 4096)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        if (v.size() > maxLen)
            return u"is too long"_s;
        c.*field = v;
        return std::nullopt;
    };
}

// A file name; whether it can be read is checked once the sources are
// merged, so a file named by the INI file and overridden later is not read.
Apply fileSetting(QString ServerConfig::*field)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        c.*field = v;
        return std::nullopt;
    };
}

Apply flagSetting(bool ServerConfig::*field)
{
    return [=](ServerConfig &c, const QString &v) { return boolFrom(v, c.*field); };
}

// A comma-separated list of ICE server URIs with one of `schemes`
// (RFC 7064/7065: stun:, stuns:, turn:, turns:), as browsers take them.
Apply iceUris(QStringList ServerConfig::*field, const QStringList &schemes)
{
    return [=](ServerConfig &c, const QString &v) -> std::optional<QString> {
        QStringList uris;
        for (const QString &part : v.split(u',', Qt::SkipEmptyParts)) {
            const QString uri = part.trimmed();
            const qsizetype colon = uri.indexOf(u':');
            const bool schemeOk = colon > 0 && schemes.contains(uri.left(colon).toLower());
            const bool textOk = uri.size() <= 512 && colon + 1 < uri.size()
                                && std::none_of(uri.cbegin(), uri.cend(), [](QChar ch) {
                                       return ch.unicode() <= 0x20 || ch.unicode() >= 0x7f || ch == u'"'
                                              || ch == u'\\';
                                   });
            if (!schemeOk || !textOk)
                return u"must list URIs starting with %1, not '%2'"_s.arg(schemes.join(u" or "_s), uri.left(64));
            uris.append(uri);
        }
        if (uris.size() > 16)
            return u"must list at most 16 URIs"_s;
        c.*field = uris;
        return std::nullopt;
    };
}

std::optional<Mode> parseMode(const QString &v)
{
    const QString s = v.trimmed().toLower();
    if (s == "development"_L1 || s == "dev"_L1 || s == "test"_L1)
        return Mode::Development;
    if (s == "production"_L1 || s == "prod"_L1)
        return Mode::Production;
    return std::nullopt;
}

const QList<Setting> &settings()
{
    static const QList<Setting> table = {
        {u"port"_s, u"WS_PORT"_s, u"N"_s, u"TCP port for WebSocket and HTTP (0 = any free port). Default 9003."_s,
         intSetting(&ServerConfig::port, 0, 65535)},
        {u"host"_s, u"WS_HOST"_s, u"HOST"_s,
         u"Address to listen on. Default localhost (development), 0.0.0.0 (production)."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             const QString h = v.trimmed();
             if (h.isEmpty() || h.size() > 255)
                 return u"must be a host name or address"_s;
             if (h != "localhost"_L1 && QHostAddress(h).isNull())
                 return u"must be localhost or an IP address, not '%1'"_s.arg(h.left(64));
             c.host = h;
             return std::nullopt;
         }},
        {u"transport"_s, u"MEDRELAY_TRANSPORT"_s, u"NAME"_s,
         u"What carries ws:// connections: epoll (lean, Linux) or qt (QWebSocket). TLS always uses qt. Default epoll."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             const QString t = v.trimmed().toLower();
             if (t == "qt"_L1) {
                 c.transport = Transport::Qt;
                 return std::nullopt;
             }
#ifdef Q_OS_LINUX
             if (t == "epoll"_L1) {
                 c.transport = Transport::Epoll;
                 return std::nullopt;
             }
             return u"must be epoll or qt"_s;
#else
             return u"must be qt on this platform"_s;
#endif
         }},
        {u"io-threads"_s, u"MEDRELAY_IO_THREADS"_s, u"N"_s,
         u"Extra threads that carry ws:// sockets (epoll transport); rooms and messages stay on the main thread. "
         "0 = everything on the main thread. Default 0."_s,
         intSetting(&ServerConfig::ioThreads, 0, 256)},
        {u"max-message-size"_s, u"MEDRELAY_MAX_MESSAGE_SIZE"_s, u"BYTES"_s,
         u"Largest accepted WebSocket message or frame; larger closes with 1009. Default 65536."_s,
         intSetting(&ServerConfig::maxMessageBytes, 256, 16 * 1024 * 1024)},
        {u"send-queue-limit"_s, u"MEDRELAY_SEND_QUEUE_LIMIT"_s, u"BYTES"_s,
         u"Outgoing bytes queued for one client before it is closed as too slow. Default 1048576."_s,
         intSetting(&ServerConfig::sendQueueLimitBytes, 4096, qint64(1) << 32)},
        {u"max-connections"_s, u"MEDRELAY_MAX_CONNECTIONS"_s, u"N"_s,
         u"Most WebSocket connections at once. Default 20000."_s,
         intSetting(&ServerConfig::maxConnections, 1, 10000000)},
        {u"max-connections-per-ip"_s, u"MEDRELAY_MAX_CONNECTIONS_PER_IP"_s, u"N"_s,
         u"Most WebSocket connections from one address (0 = no cap). Default 0 (development), 1000 (production)."_s,
         intSetting(&ServerConfig::maxConnectionsPerAddress, 0, 10000000)},
        {u"max-pending"_s, u"MEDRELAY_MAX_PENDING"_s, u"N"_s,
         u"Accepted sockets that have not finished their request (or TLS handshake) yet. When full, the oldest "
         "one of the address holding the most makes room. Default 4096."_s,
         intSetting(&ServerConfig::maxPendingRequests, 1, 1000000)},
        {u"max-pending-per-ip"_s, u"MEDRELAY_MAX_PENDING_PER_IP"_s, u"N"_s,
         u"Of those, how many one address (IPv6: one /64) may hold; beyond it its own oldest is closed "
         "(0 = no cap). Default 256."_s,
         intSetting(&ServerConfig::maxPendingPerAddress, 0, 1000000)},
        {u"rate-limit"_s, u"MEDRELAY_RATE_LIMIT"_s, u"MSGS"_s,
         u"Messages per second one connection may send, sustained (0 = no limit). Default 100."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             bool ok = false;
             const double r = v.trimmed().toDouble(&ok);
             if (!ok || !std::isfinite(r) || r < 0 || r > 1e6)
                 return u"must be a number from 0 to 1000000"_s;
             c.rateLimitPerSecond = r;
             return std::nullopt;
         }},
        {u"rate-burst"_s, u"MEDRELAY_RATE_BURST"_s, u"N"_s,
         u"Messages one connection may send in a burst above the rate. Default 200."_s,
         intSetting(&ServerConfig::rateLimitBurst, 1, 1000000)},
        {u"max-rooms-per-connection"_s, u"MEDRELAY_MAX_ROOMS_PER_CONNECTION"_s, u"N"_s,
         u"Rooms one connection may be in at once. Default 16."_s,
         intSetting(&ServerConfig::maxRoomsPerConnection, 1, 10000)},
        {u"max-participants-per-room"_s, u"MEDRELAY_MAX_PARTICIPANTS_PER_ROOM"_s, u"N"_s,
         u"Connections one room may hold. Default 64."_s,
         intSetting(&ServerConfig::maxParticipantsPerRoom, 2, 100000)},
        {u"request-timeout"_s, u"MEDRELAY_REQUEST_TIMEOUT"_s, u"SECONDS"_s,
         u"Time allowed to send an HTTP request or WebSocket handshake. Default 10."_s,
         secondsSetting(&ServerConfig::requestTimeoutMs, 0.05, 300)},
        {u"ping-interval"_s, u"MEDRELAY_PING_INTERVAL"_s, u"SECONDS"_s,
         u"WebSocket ping interval; two missed pongs close the connection. Default 15 (development), 30 (production)."_s,
         secondsSetting(&ServerConfig::pingIntervalMs, 0.05, 3600)},
        {u"idle-room-timeout"_s, u"MEDRELAY_IDLE_ROOM_TIMEOUT"_s, u"SECONDS"_s,
         u"Rooms without activity this long are closed by the sweep. Default 600."_s,
         secondsSetting(&ServerConfig::idleRoomTimeoutMs, 0.05, 7 * 86400)},
        {u"idle-sweep-interval"_s, u"MEDRELAY_IDLE_SWEEP_INTERVAL"_s, u"SECONDS"_s,
         u"How often idle rooms are looked for. Default 60."_s,
         secondsSetting(&ServerConfig::idleSweepIntervalMs, 0.05, 86400)},
        {u"drain-timeout"_s, u"MEDRELAY_DRAIN_TIMEOUT"_s, u"SECONDS"_s,
         u"On SIGTERM/SIGINT, longest wait for clients to close before exiting. Default 3 (development), 20 (production)."_s,
         secondsSetting(&ServerConfig::drainTimeoutMs, 0, 3600)},
        {u"admin-token"_s, u"MEDRELAY_ADMIN_TOKEN"_s, u"TOKEN"_s,
         u"Bearer token required by /stats, /metrics and /admin/*."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             if (!v.isEmpty() && v.size() < 16)
                 return u"must be at least 16 characters"_s;
             c.adminToken = v;
             return std::nullopt;
         }},
        {u"jwt-secret"_s, u"MEDRELAY_JWT_SECRET"_s, u"SECRET"_s,
         u"Shared secret for HS256 client tokens."_s, stringSetting(&ServerConfig::jwtSecret)},
        {u"jwt-public-key"_s, u"MEDRELAY_JWT_PUBLIC_KEY"_s, u"FILE"_s,
         u"PEM public key for RS256/ES256 client tokens."_s, fileSetting(&ServerConfig::jwtPublicKeyFile)},
        {u"jwt-issuer"_s, u"MEDRELAY_JWT_ISSUER"_s, u"ISS"_s, u"Required token issuer (iss)."_s,
         stringSetting(&ServerConfig::jwtIssuer, 512)},
        {u"jwt-audience"_s, u"MEDRELAY_JWT_AUDIENCE"_s, u"AUD"_s, u"Required token audience (aud)."_s,
         stringSetting(&ServerConfig::jwtAudience, 512)},
        {u"jwt-leeway"_s, u"MEDRELAY_JWT_LEEWAY"_s, u"SECONDS"_s,
         u"Clock skew allowed on exp/nbf. Default 30."_s,
         intSetting(&ServerConfig::jwtLeewaySeconds, 0, 600)},
        {u"insecure-no-auth"_s, u"MEDRELAY_INSECURE_NO_AUTH"_s, {},
         u"Run without client authentication even in production (logged loudly)."_s,
         flagSetting(&ServerConfig::insecureNoAuth)},
        {u"tls-cert"_s, u"MEDRELAY_TLS_CERT"_s, u"FILE"_s, u"PEM certificate chain: serve wss:// and https://."_s,
         fileSetting(&ServerConfig::tlsCertFile)},
        {u"tls-key"_s, u"MEDRELAY_TLS_KEY"_s, u"FILE"_s, u"PEM private key for --tls-cert."_s,
         fileSetting(&ServerConfig::tlsKeyFile)},
        {u"allowed-origins"_s, u"MEDRELAY_ALLOWED_ORIGINS"_s, u"LIST"_s,
         u"Comma-separated Origins allowed to open WebSockets (empty = any)."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             c.allowedOrigins.clear();
             for (const QString &o : v.split(u',', Qt::SkipEmptyParts))
                 c.allowedOrigins.append(o.trimmed());
             return std::nullopt;
         }},
        {u"admin-allowed-origins"_s, u"MEDRELAY_ADMIN_ALLOWED_ORIGINS"_s, u"LIST"_s,
         u"Comma-separated web Origins allowed to call /stats, /metrics and /admin/* (an operations dashboard); "
         "a request from any other Origin gets 403. Requests without an Origin (console, curl) are not affected. "
         "Default none."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             c.adminAllowedOrigins.clear();
             for (const QString &o : v.split(u',', Qt::SkipEmptyParts))
                 c.adminAllowedOrigins.append(o.trimmed());
             return std::nullopt;
         }},
        {u"trusted-proxies"_s, u"MEDRELAY_TRUSTED_PROXIES"_s, u"LIST"_s,
         u"Comma-separated addresses or subnets of reverse proxies; from these, the client address is taken "
         "from X-Forwarded-For (per-address cap, stats, audit). Default none."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             QStringList entries;
             for (const QString &e : v.split(u',', Qt::SkipEmptyParts))
                 entries.append(e.trimmed());
             if (const auto bad = TrustedProxies::invalidEntry(entries))
                 return u"must list addresses or subnets, not '%1'"_s.arg(bad->left(64));
             c.trustedProxies = entries;
             return std::nullopt;
         }},
        {u"log-format"_s, u"MEDRELAY_LOG_FORMAT"_s, u"FORMAT"_s,
         u"Where logs go: auto (the journal with fields when run by systemd, else text on stderr), text, json "
         "(one JSON object per line on stderr) or journal. Default auto."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             static const QList<QPair<QString, LogFormat>> names = {{u"auto"_s, LogFormat::Auto},
                                                                    {u"text"_s, LogFormat::Text},
                                                                    {u"json"_s, LogFormat::Json},
                                                                    {u"journal"_s, LogFormat::Journal}};
             const QString f = v.trimmed().toLower();
             for (const auto &[name, format] : names) {
                 if (f == name) {
                     c.logFormat = format;
                     return std::nullopt;
                 }
             }
             return u"must be auto, text, json or journal"_s;
         }},
        {u"data-dir"_s, u"MEDRELAY_DATA_DIR"_s, u"DIR"_s,
         u"Directory for the audit log and stored data. Default ./medrelay-data (development), /var/lib/medrelay (production)."_s,
         stringSetting(&ServerConfig::dataDir)},
        {u"waiting-room"_s, u"MEDRELAY_WAITING_ROOM"_s, u"on|off"_s,
         u"Whether new rooms start with a waiting room: guests wait until a host admits them. A host can change it "
         "per room. Default off."_s,
         [](ServerConfig &c, const QString &v) { return boolFrom(v, c.waitingRoomByDefault); }},
        {u"host-roles"_s, u"MEDRELAY_HOST_ROLES"_s, u"LIST"_s,
         u"Comma-separated roles (from the verified token; claimed in development) that are hosts: they admit "
         "guests, lock rooms, remove participants and end consultations. Default doctor,nurse,clinician,admin."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             QStringList roles;
             for (const QString &r : v.split(u',', Qt::SkipEmptyParts)) {
                 if (r.trimmed().size() > 32)
                     return u"must list roles of at most 32 characters"_s;
                 roles.append(r.trimmed());
             }
             c.hostRoles = roles;
             return std::nullopt;
         }},
        {u"appointment-room-pattern"_s, u"MEDRELAY_APPOINTMENT_ROOM_PATTERN"_s, u"PATTERN"_s,
         u"The room id an appointment grant opens, with {id} for the appointment id. Default appointment_{id}."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             if (!AccessPolicy::isValidPattern(v.trimmed()))
                 return u"must contain {id} once and otherwise only letters, digits or _ . : @ -"_s;
             c.appointmentRoomPattern = v.trimmed();
             return std::nullopt;
         }},
        {u"resume-grace"_s, u"MEDRELAY_RESUME_GRACE"_s, u"SECONDS"_s,
         u"How long a participant whose connection dropped keeps its place: back in time, it resumes unannounced; "
         "else the others are told it left (reason timeout). 0 = announce at once. Default 15."_s,
         secondsSetting(&ServerConfig::resumeGraceMs, 0, 3600)},
        {u"recent-chat"_s, u"MEDRELAY_RECENT_CHAT"_s, u"N"_s,
         u"Chat messages a late joiner gets in room_state. Default 50."_s,
         intSetting(&ServerConfig::recentChat, 0, 10000)},
        {u"max-chat-length"_s, u"MEDRELAY_MAX_CHAT_LENGTH"_s, u"CHARS"_s,
         u"Longest chat text (0 = whatever fits in --max-message-size). Default 0."_s,
         intSetting(&ServerConfig::maxChatLength, 0, 16 * 1024 * 1024)},
        {u"max-consultation-minutes"_s, u"MEDRELAY_MAX_CONSULTATION_MINUTES"_s, u"N"_s,
         u"Ends a consultation this long after it started, with a consultation_warning five minutes before "
         "(0 = no limit). Default 0."_s,
         minutesSetting(&ServerConfig::maxConsultationMs, 7 * 24 * 60)},
        {u"idle-logoff-minutes"_s, u"MEDRELAY_IDLE_LOGOFF_MINUTES"_s, u"N"_s,
         u"Closes a connection that sent no message for this long, with close code 4004 (automatic logoff; "
         "0 = off). Default 0."_s,
         minutesSetting(&ServerConfig::idleLogoffMs, 24 * 60)},
        {u"ended-room-refusal"_s, u"MEDRELAY_ENDED_ROOM_REFUSAL"_s, u"SECONDS"_s,
         u"After a consultation ends, joins to its room id are refused with consultation_ended this long. "
         "Default 86400."_s,
         longSecondsSetting(&ServerConfig::endedRoomRefusalMs, 0, 365LL * 86400)},
        {u"history"_s, u"MEDRELAY_HISTORY"_s, u"on|off"_s,
         u"Keep chat and whiteboard history for resume and late joiners. Off: messages are still numbered and "
         "acknowledged, nothing is kept. Default on."_s,
         [](ServerConfig &c, const QString &v) { return boolFrom(v, c.historyEnabled); }},
        {u"history-key-file"_s, u"MEDRELAY_HISTORY_KEY_FILE"_s, u"FILE"_s,
         u"AES-256 key (32 bytes raw, hex or base64) that encrypts the history in --data-dir. Without it, "
         "development keeps history in memory only; production refuses to keep history."_s,
         fileSetting(&ServerConfig::historyKeyFile)},
        {u"history-max-messages"_s, u"MEDRELAY_HISTORY_MAX_MESSAGES"_s, u"N"_s,
         u"Stored messages kept per room (oldest dropped first). Default 2000."_s,
         intSetting(&ServerConfig::historyMaxMessages, 1, 1000000)},
        {u"history-max-age"_s, u"MEDRELAY_HISTORY_MAX_AGE"_s, u"SECONDS"_s,
         u"Stored messages older than this are dropped. Default 86400."_s,
         longSecondsSetting(&ServerConfig::historyMaxAgeMs, 1, 3650LL * 86400)},
        {u"history-retention"_s, u"MEDRELAY_HISTORY_RETENTION"_s, u"SECONDS"_s,
         u"How long a consultation's history is kept after it ends (0 = deleted when it ends). Default 0."_s,
         longSecondsSetting(&ServerConfig::historyRetentionMs, 0, 3650LL * 86400)},
        {u"redis"_s, u"MEDRELAY_REDIS_URL"_s, u"URL"_s,
         u"Cluster mode: share rooms, presence and history with the other instances using this Redis "
         "(redis://[[user]:password@]host[:port][/db]; no TLS: keep Redis on a private network or behind stunnel). "
         "Default none: one instance."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             if (v.trimmed().isEmpty()) {
                 c.redisUrl.clear();
                 return std::nullopt;
             }
             const auto parsed = cluster::RedisUrl::parse(v);
             if (const QString *error = std::get_if<QString>(&parsed))
                 return *error;
             c.redisUrl = v.trimmed();
             return std::nullopt;
         }},
        {u"cluster-presence-ttl"_s, u"MEDRELAY_CLUSTER_PRESENCE_TTL"_s, u"SECONDS"_s,
         u"Cluster mode: an instance that has not refreshed its presence in Redis for this long is taken for dead; "
         "its participants leave after the resume grace unless their clients resumed on another instance. "
         "Default 15."_s,
         secondsSetting(&ServerConfig::clusterPresenceTtlMs, 1, 300)},
        {u"cluster-outage-messages"_s, u"MEDRELAY_CLUSTER_OUTAGE_MESSAGES"_s, u"N"_s,
         u"Cluster mode: while Redis is out of reach, a room whose members are all on this instance keeps its chat "
         "and whiteboard; this many of its messages (and 4 MiB) are held per room, 32 MiB in all, until Redis is back "
         "(0 = refuse them). Default 1000."_s,
         intSetting(&ServerConfig::clusterOutageMessages, 0, 100000)},
        {u"audit-key-file"_s, u"MEDRELAY_AUDIT_KEY_FILE"_s, u"FILE"_s,
         u"Key (at least 32 bytes, e.g. openssl rand -hex 32) that signs the audit chain (HMAC-SHA256) and its "
         "checkpoints; no access for other users. Default <data-dir>/audit.key, created at first start."_s,
         fileSetting(&ServerConfig::auditKeyFile)},
        {u"audit-rotate-size"_s, u"MEDRELAY_AUDIT_ROTATE_SIZE"_s, u"BYTES"_s,
         u"Start a new audit file when the current one reaches this size (0 = never by size). Default 67108864."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             qint64 n = 0;
             if (intIn(v, 0, qint64(1) << 40, n) || (n != 0 && n < 4096))
                 return u"must be 0 or a number of bytes from 4096 to 1099511627776"_s;
             c.auditRotateBytes = n;
             return std::nullopt;
         }},
        {u"audit-rotate-daily"_s, u"MEDRELAY_AUDIT_ROTATE_DAILY"_s, u"BOOL"_s,
         u"Start a new audit file at each UTC midnight. Default true."_s,
         [](ServerConfig &c, const QString &v) { return boolFrom(v, c.auditRotateDaily); }},
        {u"audit-retention-days"_s, u"MEDRELAY_AUDIT_RETENTION_DAYS"_s, u"DAYS"_s,
         u"Delete rotated audit files whose last record is older than this (0 = keep every file). Default 0."_s,
         intSetting(&ServerConfig::auditRetentionDays, 0, 36500)},
        {u"audit-backlog"_s, u"MEDRELAY_AUDIT_BACKLOG"_s, u"RECORDS"_s,
         u"Audit records kept in memory while the disk refuses writes; beyond it new records are dropped and "
         "counted. Default 50000."_s,
         intSetting(&ServerConfig::auditBacklogLimit, 16, 10000000)},
        {u"audit-checkpoint-interval"_s, u"MEDRELAY_AUDIT_CHECKPOINT_INTERVAL"_s, u"SECONDS"_s,
         u"Most time between signed audit checkpoints while records are written. Default 30."_s,
         secondsSetting(&ServerConfig::auditCheckpointIntervalMs, 1, 3600)},
        {u"stun-uris"_s, u"MEDRELAY_STUN_URIS"_s, u"LIST"_s,
         u"Comma-separated STUN URIs (stun:host:port) given to clients in ice_servers after room_state. Default none."_s,
         iceUris(&ServerConfig::stunUris, {u"stun"_s, u"stuns"_s})},
        {u"turn-uris"_s, u"MEDRELAY_TURN_URIS"_s, u"LIST"_s,
         u"Comma-separated TURN URIs (turn:host:3478?transport=udp, turns:host:5349) given to clients in "
         "ice_servers with short-lived credentials; needs --turn-secret. Default none."_s,
         iceUris(&ServerConfig::turnUris, {u"turn"_s, u"turns"_s})},
        {u"turn-secret"_s, u"MEDRELAY_TURN_SECRET"_s, u"SECRET"_s,
         u"The TURN server's shared secret (coturn: use-auth-secret, static-auth-secret), at least 16 characters; "
         "TURN passwords are HMAC-SHA1 of it. Never logged."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             if (!v.isEmpty() && (v.size() < 16 || v.size() > 4096))
                 return u"must be 16 to 4096 characters"_s;
             c.turnSecret = v;
             return std::nullopt;
         }},
        {u"turn-credential-lifetime"_s, u"MEDRELAY_TURN_CREDENTIAL_LIFETIME"_s, u"SECONDS"_s,
         u"How long each TURN credential is valid; fresh ones are sent at 80 % of it while the client is in a "
         "room. Default 3600."_s,
         intSetting(&ServerConfig::turnCredentialLifetimeSeconds, 10, 7 * 86400)},
        {u"web-root"_s, u"MEDRELAY_WEB_ROOT"_s, u"DIR"_s,
         u"Serve the demo consultation page and the browser client library (static files) from DIR; off = "
         "none. Default: the bundled page in development, off in production."_s,
         [](ServerConfig &c, const QString &v) -> std::optional<QString> {
             const QString dir = v.trimmed();
             if (dir.size() > 4096)
                 return u"is too long"_s;
             c.webRoot = dir.compare("off"_L1, Qt::CaseInsensitive) == 0 ? QString() : dir;
             return std::nullopt;
         }},
    };
    return table;
}

QString envValue(const QProcessEnvironment &env, const QString &name)
{
    return env.value(name);
}

bool debugRequested(const QString &debugEnv)
{
    // The original honoured DEBUG=websocket:*; any pattern naming websocket,
    // medrelay or everything turns debug logging on.
    const QString d = debugEnv.trimmed();
    return d == "*"_L1 || d.contains("websocket"_L1) || d.contains("medrelay"_L1);
}

} // namespace

std::variant<LoadedConfig, ConfigError> ConfigLoader::load(const QStringList &arguments,
                                                          const QProcessEnvironment &env)
{
    QCommandLineParser parser;
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption helpOpt({u"h"_s, u"help"_s}, u"Show this help."_s);
    const QCommandLineOption versionOpt({u"v"_s, u"version"_s}, u"Show the version."_s);
    const QCommandLineOption envOpt(u"env"_s, u"development or production."_s, u"MODE"_s);
    const QCommandLineOption configOpt(u"config"_s, u"INI configuration file."_s, u"FILE"_s);
    const QCommandLineOption verifyOpt(u"verify-audit"_s, u"Check an audit trail and exit."_s, u"PATH"_s);
    const QCommandLineOption checkpointOpt(u"audit-checkpoint"_s,
                                           u"With --verify-audit: checkpoints (e.g. from the system log) to check."_s,
                                           u"FILE"_s);
    parser.addOption(helpOpt);
    parser.addOption(versionOpt);
    parser.addOption(envOpt);
    parser.addOption(configOpt);
    parser.addOption(verifyOpt);
    parser.addOption(checkpointOpt);
    QList<QCommandLineOption> options;
    for (const Setting &s : settings()) {
        options.append(s.valueName.isEmpty() ? QCommandLineOption(s.key, s.help)
                                             : QCommandLineOption(s.key, s.help, s.valueName));
        parser.addOption(options.last());
    }
    if (!parser.parse(arguments))
        return ConfigError{parser.errorText()};
    // Only --verify-audit takes more than one path.
    if (!parser.positionalArguments().isEmpty() && !parser.isSet(verifyOpt))
        return ConfigError{u"unexpected argument '%1'"_s.arg(parser.positionalArguments().constFirst())};
    if (parser.isSet(checkpointOpt) && !parser.isSet(verifyOpt))
        return ConfigError{u"--audit-checkpoint is only for --verify-audit"_s};

    LoadedConfig loaded;
    if (parser.isSet(helpOpt)) {
        loaded.action = ConfigAction::ShowHelp;
        return loaded;
    }
    if (parser.isSet(versionOpt)) {
        loaded.action = ConfigAction::ShowVersion;
        return loaded;
    }
    if (parser.isSet(verifyOpt)) {
        loaded.action = ConfigAction::VerifyAudit;
        loaded.verifyPaths = parser.values(verifyOpt) + parser.positionalArguments();
        loaded.verifyCheckpointFiles = parser.values(checkpointOpt);
        // The key as the server would find it: command line, environment,
        // configuration file; else the verifier looks beside the log.
        const QString keyOption = u"audit-key-file"_s;
        loaded.verifyKeyFiles = parser.values(keyOption);
        if (loaded.verifyKeyFiles.isEmpty() && env.contains(u"MEDRELAY_AUDIT_KEY_FILE"_s))
            loaded.verifyKeyFiles.append(env.value(u"MEDRELAY_AUDIT_KEY_FILE"_s));
        const QString configFile = parser.isSet(configOpt) ? parser.value(configOpt) : env.value(u"MEDRELAY_CONFIG"_s);
        if (loaded.verifyKeyFiles.isEmpty() && !configFile.isEmpty()) {
            const QSettings ini(configFile, QSettings::IniFormat);
            if (ini.contains(keyOption))
                loaded.verifyKeyFiles.append(ini.value(keyOption).toString());
        }
        return loaded;
    }

    // The config file first, because it may set the mode.
    std::unique_ptr<QSettings> ini;
    const QString configFile = parser.isSet(configOpt) ? parser.value(configOpt) : env.value(u"MEDRELAY_CONFIG"_s);
    if (!configFile.isEmpty()) {
        if (!QFileInfo(configFile).isReadable())
            return ConfigError{u"config: cannot read file '%1'"_s.arg(configFile)};
        ini = std::make_unique<QSettings>(configFile, QSettings::IniFormat);
        if (ini->status() != QSettings::NoError)
            return ConfigError{u"config: '%1' is not a valid INI file"_s.arg(configFile)};
    }

    // Mode, by precedence: --env, MEDRELAY_ENV, NODE_ENV, the file's env key.
    QString modeSource;
    QString modeText;
    if (parser.isSet(envOpt)) {
        modeText = parser.value(envOpt);
        modeSource = u"--env"_s;
    } else if (env.contains(u"MEDRELAY_ENV"_s)) {
        modeText = env.value(u"MEDRELAY_ENV"_s);
        modeSource = u"MEDRELAY_ENV"_s;
    } else if (env.contains(u"NODE_ENV"_s)) {
        modeText = env.value(u"NODE_ENV"_s);
        modeSource = u"NODE_ENV"_s;
    } else if (ini && ini->contains(u"env"_s)) {
        modeText = ini->value(u"env"_s).toString();
        modeSource = u"config env"_s;
    }
    Mode mode = Mode::Development;
    if (!modeSource.isEmpty()) {
        const auto m = parseMode(modeText);
        if (!m)
            return ConfigError{u"%1: unknown mode '%2' (use development or production)"_s.arg(
                modeSource, modeText.left(64))};
        mode = *m;
    }

    ServerConfig c = defaultConfig(mode);
    c.configFile = configFile;

    if (ini) {
        const QStringList known = [] {
            QStringList k{u"env"_s, u"debug"_s};
            for (const Setting &s : settings())
                k.append(s.key);
            return k;
        }();
        for (const QString &key : ini->allKeys()) {
            if (!known.contains(key))
                return ConfigError{u"config %1: unknown setting '%2'"_s.arg(configFile, key)};
        }
        for (const Setting &s : settings()) {
            if (!ini->contains(s.key))
                continue;
            const QVariant v = ini->value(s.key);
            const QString text = v.typeId() == QMetaType::QStringList ? v.toStringList().join(u',') : v.toString();
            if (auto e = s.apply(c, text))
                return ConfigError{u"config %1: %2 %3"_s.arg(configFile, s.key, *e)};
        }
        if (ini->contains(u"debug"_s)) {
            if (auto e = boolFrom(ini->value(u"debug"_s).toString(), c.debugLogging))
                return ConfigError{u"config %1: debug %2"_s.arg(configFile, *e)};
        }
    }

    for (const Setting &s : settings()) {
        if (s.env.isEmpty() || !env.contains(s.env))
            continue;
        if (auto e = s.apply(c, envValue(env, s.env)))
            return ConfigError{u"%1 %2"_s.arg(s.env, *e)};
    }
    if (env.contains(u"DEBUG"_s))
        c.debugLogging = debugRequested(env.value(u"DEBUG"_s));

    for (int i = 0; i < settings().size(); ++i) {
        const Setting &s = settings().at(i);
        if (!parser.isSet(options.at(i)))
            continue;
        const QString value = s.valueName.isEmpty() ? u"true"_s : parser.value(options.at(i));
        if (auto e = s.apply(c, value))
            return ConfigError{u"--%1 %2"_s.arg(s.key, *e)};
    }

    for (const auto &[option, file] : {std::pair{u"--jwt-public-key"_s, c.jwtPublicKeyFile},
                                       std::pair{u"--tls-cert"_s, c.tlsCertFile},
                                       std::pair{u"--tls-key"_s, c.tlsKeyFile},
                                       std::pair{u"--history-key-file"_s, c.historyKeyFile},
                                       std::pair{u"--audit-key-file"_s, c.auditKeyFile}}) {
        if (!file.isEmpty() && !QFileInfo(file).isReadable())
            return ConfigError{u"%1 names a file that cannot be read: %2"_s.arg(option, file)};
    }
    if (c.turnUris.isEmpty() != c.turnSecret.isEmpty())
        return ConfigError{u"--turn-uris and --turn-secret must be given together"_s};
    if (!c.webRoot.isEmpty() && !QFileInfo(c.webRoot).isDir())
        return ConfigError{u"--web-root names no readable directory: %1"_s.arg(c.webRoot)};
    if (c.tlsCertFile.isEmpty() != c.tlsKeyFile.isEmpty())
        return ConfigError{u"--tls-cert and --tls-key must be given together"_s};
    if (c.mode == Mode::Production) {
        if (!c.authEnabled() && !c.insecureNoAuth)
            return ConfigError{u"production mode needs --jwt-secret or --jwt-public-key for client tokens "
                               "(or --insecure-no-auth to run without authentication)"_s};
        if (c.dataDir.isEmpty())
            return ConfigError{u"production mode needs --data-dir for the audit log"_s};
        if (c.adminToken.isEmpty())
            return ConfigError{u"production mode needs --admin-token (MEDRELAY_ADMIN_TOKEN) for /stats, /metrics "
                               "and /admin/*"_s};
        if (c.historyEnabled && c.historyKeyFile.isEmpty())
            return ConfigError{u"production mode keeps consultation history encrypted at rest: give "
                               "--history-key-file FILE (or --history off)"_s};
    }
    // In cluster mode the history is kept in Redis, not in the data directory.
    if (c.historyEnabled && !c.historyKeyFile.isEmpty() && c.dataDir.isEmpty() && !c.clustered())
        return ConfigError{u"--history-key-file needs --data-dir for the history database"_s};
    if (c.idleSweepIntervalMs > c.idleRoomTimeoutMs)
        c.idleSweepIntervalMs = std::max(50, c.idleRoomTimeoutMs / 2);

    loaded.config = c;
    return loaded;
}

QString ConfigLoader::helpText()
{
    QString out = u"medrelay-server %1: real-time relay for telemedicine consultations.\n\n"
                  "Usage: medrelay-server [options]\n\n"
                  "Precedence: built-in defaults of the mode < --config file < environment < command line.\n\n"
                  "  --env MODE              development or production (env MEDRELAY_ENV or NODE_ENV)\n"
                  "  --config FILE           INI file; keys are the option names below (env MEDRELAY_CONFIG)\n"
                  "  --verify-audit PATH...  check an audit trail (a data directory or audit files) and exit;\n"
                  "                          with --audit-key-file FILE (repeatable) and --audit-checkpoint FILE\n"
                  "  --help, --version\n"_s.arg(QLatin1StringView(MEDRELAY_VERSION));
    for (const Setting &s : settings()) {
        QString left = u"--"_s + s.key;
        if (!s.valueName.isEmpty())
            left += u' ' + s.valueName;
        out += u"  "_s + left;
        if (!s.env.isEmpty())
            out += u"   (env "_s + s.env + u')';
        out += u"\n      "_s + s.help + u'\n';
    }
    out += u"\nDEBUG=websocket:* (or QT_LOGGING_RULES=\"medrelay.*.debug=true\") turns on debug logs.\n"_s;
    return out;
}

} // namespace medrelay::server
