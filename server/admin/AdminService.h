#pragma once
// What the admin API reports and does: health and stats snapshots, and the
// admin actions (close a room, close idle rooms, disconnect a connection).
// Knows nothing of HTTP; HttpRouter maps requests onto it.

#include "adminapi/AdminTypes.h"
#include "config/ServerConfig.h"

#include <QElapsedTimer>
#include <QObject>

#include <functional>

namespace medrelay::cluster {
class ClusterBus;
}

namespace medrelay::server {

class ConnectionManager;
class EventLog;
class Metrics;
class Room;
class RoomService;

class AdminService final : public QObject
{
    Q_OBJECT
public:
    AdminService(const ServerConfig &config, RoomService &rooms, ConnectionManager &connections, Metrics &metrics,
                 EventLog &events, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(AdminService)

    void setDraining(bool draining) { m_draining = draining; }
    // Where /health and /metrics read the audit writer's state from (set
    // when an audit log is kept).
    void setAuditHealthSource(std::function<adminapi::AuditHealth()> source) { m_auditHealth = std::move(source); }
    // Cluster mode: /health, /stats, /metrics and the room queries show the
    // whole cluster; actions on rooms and connections act where they are.
    void setCluster(cluster::ClusterBus *cluster) { m_cluster = cluster; }
    [[nodiscard]] bool isDraining() const { return m_draining; }

    [[nodiscard]] adminapi::Health health(bool withRoomDetails) const;
    [[nodiscard]] adminapi::Stats stats() const;
    [[nodiscard]] QByteArray prometheus() const;
    [[nodiscard]] adminapi::EventPage events(qint64 since) const;
    // A page of rooms (sorted by id) matching `filter`; limit at most 500.
    [[nodiscard]] adminapi::RoomPage roomPage(int offset, int limit, const QString &filter) const;
    // One room with its participants and waiting guests.
    [[nodiscard]] std::optional<adminapi::RoomInfo> room(const QString &roomId) const;
    [[nodiscard]] adminapi::RoomInfo roomInfo(const Room &room, bool withParticipants) const;
    [[nodiscard]] adminapi::Health state() const { return health(false); }
    [[nodiscard]] Metrics &metrics() const { return m_metrics; }
    // The recent-events ring (/admin/events), for the admin stream to follow.
    [[nodiscard]] EventLog &eventLog() const { return m_events; }
    [[nodiscard]] int maxConnections() const { return m_config.maxConnections; }
    [[nodiscard]] QString mode() const;
    // Cluster mode: rooms served only by other instances, as the cluster's
    // directory last listed them, and when it did (0: not yet, or not in
    // cluster mode). Asking keeps the directory refreshed.
    [[nodiscard]] QList<adminapi::RoomInfo> roomsElsewhere() const { return remoteRoomInfos(true); }
    [[nodiscard]] qint64 directoryReadAtMs() const;

    adminapi::ActionResult closeRoom(const QString &roomId, const adminapi::CloseRoomRequest &request,
                                     const QString &actor);
    adminapi::ActionResult endConsultation(const QString &roomId, const adminapi::CloseRoomRequest &request,
                                           const QString &actor);
    adminapi::ActionResult closeIdleRooms(const adminapi::CloseIdleRequest &request, const QString &actor);
    adminapi::ActionResult disconnect(const QString &connectionId, const adminapi::DisconnectRequest &request,
                                      const QString &actor);

Q_SIGNALS:
    // For the audit trail: who did what.
    void adminAction(const QString &actor, const QString &action, const QString &target, const QString &detail);

private:
    [[nodiscard]] QList<adminapi::RoomInfo> roomInfos(bool withParticipants) const;
    [[nodiscard]] std::optional<adminapi::ClusterInfo> clusterInfo() const;
    // Rooms served only by other instances, from the cluster's directory.
    [[nodiscard]] QList<adminapi::RoomInfo> remoteRoomInfos(bool withParticipants) const;
    [[nodiscard]] bool roomElsewhere(const QString &roomId) const;

    const ServerConfig &m_config;
    RoomService &m_rooms;
    ConnectionManager &m_connections;
    Metrics &m_metrics;
    EventLog &m_events;
    QElapsedTimer m_uptime;
    bool m_draining = false;
    std::function<adminapi::AuditHealth()> m_auditHealth;
    cluster::ClusterBus *m_cluster = nullptr;
};

} // namespace medrelay::server
