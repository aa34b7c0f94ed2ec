#pragma once
// The HTTP admin API's data, shared by the server (which writes it) and the
// console (which reads it), so the two cannot drift apart. Every type has a
// toJson() and a fromJson() that returns std::nullopt for anything malformed.

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QString>

#include <optional>

namespace medrelay::adminapi {

// HTTP paths of the admin API, in one place.
namespace Path {
inline constexpr char Health[] = "/health";
inline constexpr char Stats[] = "/stats";
inline constexpr char Metrics[] = "/metrics";
inline constexpr char Events[] = "/admin/events";
inline constexpr char CloseIdleRooms[] = "/admin/rooms/close-idle";
inline constexpr char RoomsPrefix[] = "/admin/rooms/";        // + {roomId}/close
inline constexpr char ConnectionsPrefix[] = "/admin/connections/"; // + {id}/disconnect
// POST /admin/rooms/{roomId}/end: ends the consultation (as a host would).
// GET /admin/rooms?offset=&limit=&filter=: a page of room summaries.
// GET /admin/rooms/{roomId}: one room with its participants and waiting guests.
inline constexpr char Rooms[] = "/admin/rooms";
// WebSocket: a snapshot, then sequenced changes (docs/PROTOCOL.md section 9).
inline constexpr char AdminStream[] = "/admin/ws";
} // namespace Path

struct ParticipantInfo
{
    QString connectionId;
    QString userId;
    QString userName;
    QString role;
    QString address;
    QDateTime joinedAt;     // for a waiting guest: since when it waits
    QDateTime lastActivity;
    bool host = false;
    QString state;          // active, joining, away (resume grace), waiting
    QString instance = {};  // cluster mode: the instance holding the connection (absent otherwise)

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<ParticipantInfo> fromJson(const QJsonObject &o);
    friend bool operator==(const ParticipantInfo &, const ParticipantInfo &) = default;
};

struct RoomInfo
{
    QString id;
    qint64 appointmentId = 0;
    int connectionCount = 0;
    QDateTime createdAt;    // the consultation's start (not in /health)
    QDateTime lastActivity;
    QList<ParticipantInfo> participants; // empty in /health
    // Consultation state (absent from older servers: defaults).
    int waitingCount = 0;
    bool waitingRoom = false;
    bool locked = false;
    bool hostPresent = false;
    qint64 lastSeq = 0;
    QList<ParticipantInfo> waiting;         // guests in the waiting room; empty in /health
    QMap<QString, qint64> messagesByType;   // relayed messages by type, never their content

    // How much of a room: /health's entry; the summary of /admin/rooms and
    // the admin stream (with createdAt); everything (participants, waiting
    // guests, message counts), as in /stats and /admin/rooms/{id}.
    enum class Detail { Health, Summary, Full };
    [[nodiscard]] QJsonObject toJson(Detail detail) const;
    // true: Full, false: Health (the two forms the API had first).
    [[nodiscard]] QJsonObject toJson(bool withParticipants) const
    {
        return toJson(withParticipants ? Detail::Full : Detail::Health);
    }
    [[nodiscard]] static std::optional<RoomInfo> fromJson(const QJsonObject &o);
    friend bool operator==(const RoomInfo &, const RoomInfo &) = default;
};

// The audit trail's writer, in /health: records waiting for the disk and
// what went wrong. While `behind`, /health's status is "degraded".
struct AuditHealth
{
    qint64 backlog = 0;        // records accepted, not yet on disk
    qint64 failedWrites = 0;   // write attempts that failed (each retry counts)
    qint64 droppedRecords = 0; // dropped because the backlog was full
    qint64 recordsWritten = 0;
    bool behind = false;       // the last write failed; records wait in memory

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static AuditHealth fromJson(const QJsonObject &o);
    friend bool operator==(const AuditHealth &, const AuditHealth &) = default;
};

// Cluster mode (--redis): this instance, the link to Redis, and every
// instance of the cluster with its connections and rooms, as last read.
struct ClusterInstance
{
    QString id;
    QString name; // host:port
    bool alive = false;
    bool self = false;
    int connections = 0;
    int rooms = 0;

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static ClusterInstance fromJson(const QJsonObject &o);
    friend bool operator==(const ClusterInstance &, const ClusterInstance &) = default;
};

struct ClusterInfo
{
    QString instance;         // this instance's id
    bool redisConnected = false;
    bool available = false;   // connected and registered: rooms shared
    int rooms = 0;            // rooms with members or guests, cluster-wide
    QList<ClusterInstance> instances;

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static ClusterInfo fromJson(const QJsonObject &o);
    friend bool operator==(const ClusterInfo &, const ClusterInfo &) = default;
};

// GET /health. roomDetails is only filled where the server shows room ids.
struct Health
{
    QString status; // "healthy", "degraded" (audit writes failing) or "draining"
    QDateTime timestamp;
    double uptimeSeconds = 0;
    int connections = 0;
    int rooms = 0;
    std::optional<QList<RoomInfo>> roomDetails;
    bool insecure = false; // started with --insecure-no-auth
    std::optional<AuditHealth> audit; // when an audit log is kept
    std::optional<ClusterInfo> cluster; // cluster mode

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<Health> fromJson(const QJsonObject &o);
};

struct Rates
{
    double messagesIn = 0;
    double messagesOut = 0;
    double bytesIn = 0;
    double bytesOut = 0;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static Rates fromJson(const QJsonObject &o);
};

struct Totals
{
    qint64 messagesIn = 0;
    qint64 messagesOut = 0;
    qint64 bytesIn = 0;
    qint64 bytesOut = 0;
    qint64 connectionsAccepted = 0;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static Totals fromJson(const QJsonObject &o);
};

// GET /stats.
struct Stats
{
    QString version;
    QString status;
    QString mode; // "development" or "production"
    QDateTime timestamp;
    double uptimeSeconds = 0;
    int connections = 0;
    QList<RoomInfo> rooms;
    QMap<QString, qint64> messagesByType;
    QMap<QString, qint64> errorsByReason;     // error replies sent, by error code
    QMap<QString, qint64> rejectionsByReason; // connections/requests refused or closed, by reason
    Rates perSecond;
    Totals totals;
    qint64 residentMemoryBytes = 0;
    std::optional<ClusterInfo> cluster; // cluster mode
    // The server's --max-connections; 0 when the server does not say (older
    // servers), and then a console shows no cap.
    int maxConnections = 0;

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<Stats> fromJson(const QJsonObject &o);
};

// The admin stream's counters (in its snapshot and its "counters" change,
// about once a second): /stats' figures without the rooms.
struct Counters
{
    QString status; // healthy, degraded, draining
    QString version;
    QString mode;
    double uptimeSeconds = 0;
    int connections = 0;
    int maxConnections = 0; // 0: not said
    int rooms = 0;
    int adminStreams = 0;
    qint64 residentMemoryBytes = 0;
    QMap<QString, qint64> rejectionsByReason;
    Rates perSecond;
    Totals totals;
    std::optional<AuditHealth> audit; // when an audit log is kept
    std::optional<ClusterInfo> cluster; // cluster mode

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<Counters> fromJson(const QJsonObject &o);
};

// GET /admin/rooms: rooms sorted by id, without participants. `filter`
// matches room ids, appointment ids and participants' user ids and names.
struct RoomPage
{
    int total = 0;  // rooms matching the filter
    int offset = 0;
    int limit = 0;
    QString filter;
    QList<RoomInfo> rooms;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<RoomPage> fromJson(const QJsonObject &o);
};

// One entry of the server's recent-events ring (GET /admin/events?since=N).
// Ids only: no names, no chat, no SDP.
struct Event
{
    qint64 seq = 0;
    QDateTime timestamp;
    QString kind; // join, leave, room_created, room_closed, rejected, disconnect, admin
    QString roomId;
    QString connectionId;
    QString userId;
    QString detail;

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<Event> fromJson(const QJsonObject &o);
};

struct EventPage
{
    qint64 nextSeq = 0; // ask with since=nextSeq for newer events
    QList<Event> events;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<EventPage> fromJson(const QJsonObject &o);
};

// POST /admin/rooms/{id}/close
struct CloseRoomRequest
{
    QString reason;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<CloseRoomRequest> fromJson(const QJsonObject &o);
};

// POST /admin/rooms/close-idle
struct CloseIdleRequest
{
    qint64 idleSeconds = 0;
    QString reason;
    bool dryRun = false; // only count what would be closed
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<CloseIdleRequest> fromJson(const QJsonObject &o);
};

// POST /admin/connections/{id}/disconnect
struct DisconnectRequest
{
    QString reason;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<DisconnectRequest> fromJson(const QJsonObject &o);
};

// The answer to every admin action.
struct ActionResult
{
    bool ok = false;
    QString action;
    QStringList rooms;       // rooms closed (or that would be, for a dry run)
    QStringList connections; // connections disconnected
    QString message;
    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static std::optional<ActionResult> fromJson(const QJsonObject &o);
};

// Timestamps on the wire: ISO 8601 UTC with milliseconds.
[[nodiscard]] QString toIso(const QDateTime &t);
[[nodiscard]] QDateTime fromIso(const QString &s);

} // namespace medrelay::adminapi
