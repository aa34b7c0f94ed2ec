#include "admin/AdminService.h"

#include "cluster/ClusterBus.h"
#include "consultation/RoomService.h"
#include "events/EventLog.h"
#include "metrics/Metrics.h"
#include "realtime/ConnectionManager.h"

#include <medrelay/Version.h>

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcAdmin, "medrelay.admin")

namespace medrelay::server {

using namespace Qt::StringLiterals;

AdminService::AdminService(const ServerConfig &config, RoomService &rooms, ConnectionManager &connections,
                           Metrics &metrics, EventLog &events, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_rooms(rooms)
    , m_connections(connections)
    , m_metrics(metrics)
    , m_events(events)
{
    m_uptime.start();
}

namespace {

QDateTime fromMs(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
}

QString stateName(MemberState state)
{
    switch (state) {
    case MemberState::Joining:
        return u"joining"_s;
    case MemberState::Away:
        return u"away"_s;
    case MemberState::Active:
        break;
    }
    return u"active"_s;
}

} // namespace

adminapi::RoomInfo AdminService::roomInfo(const Room &room, bool withParticipants) const
{
    adminapi::RoomInfo info;
    info.id = room.id();
    info.appointmentId = room.appointmentId();
    info.connectionCount = static_cast<int>(room.size());
    info.createdAt = fromMs(room.createdAtMs());
    info.lastActivity = fromMs(room.lastActivityMs());
    info.waitingCount = static_cast<int>(room.waiting().size());
    info.waitingRoom = room.waitingRoom();
    info.locked = room.locked();
    info.hostPresent = room.hostPresent();
    info.lastSeq = room.lastSeq();
    if (withParticipants) {
        // Cluster mode: which instance holds each connection.
        const QString self = m_cluster ? m_cluster->instanceId() : QString();
        for (const Member &m : room.members()) {
            info.participants.append(adminapi::ParticipantInfo{
                m.connectionId, m.identity.userId, m.identity.userName, m.identity.role,
                m.peer ? m.peer->remoteAddress() : QString(), fromMs(m.joinedAtMs), fromMs(m.lastActivityMs), m.host,
                stateName(m.state), m.isLocal() ? self : m.instance});
        }
        for (const WaitingGuest &g : room.waiting()) {
            info.waiting.append(adminapi::ParticipantInfo{
                g.connectionId, g.identity.userId, g.identity.userName, g.identity.role,
                g.peer ? g.peer->remoteAddress() : QString(), fromMs(g.sinceMs), fromMs(g.sinceMs), false,
                u"waiting"_s, g.isLocal() ? self : g.instance});
        }
        for (int i = 0; i < protocol::kMessageKindCount; ++i) {
            const auto kind = static_cast<protocol::MessageKind>(i);
            if (const qint64 n = room.messageCount(kind))
                info.messagesByType.insert(QString(protocol::wireName(kind)), n);
        }
    }
    return info;
}

QList<adminapi::RoomInfo> AdminService::roomInfos(bool withParticipants) const
{
    QList<adminapi::RoomInfo> out;
    for (const Room *room : m_rooms.rooms())
        out.append(roomInfo(*room, withParticipants));
    out += remoteRoomInfos(withParticipants);
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    return out;
}

std::optional<adminapi::ClusterInfo> AdminService::clusterInfo() const
{
    if (!m_cluster)
        return std::nullopt;
    adminapi::ClusterInfo c;
    c.instance = m_cluster->instanceId();
    c.redisConnected = m_cluster->redisConnected();
    c.available = m_cluster->available();
    const cluster::ClusterBus::Directory &d = m_cluster->directory();
    c.rooms = d.roomCount;
    for (const cluster::ClusterBus::InstanceInfo &i : d.instances)
        c.instances.append(adminapi::ClusterInstance{i.id, i.name, i.alive, i.self, i.connections, i.rooms});
    return c;
}

qint64 AdminService::directoryReadAtMs() const
{
    return m_cluster ? m_cluster->directory().refreshedAtMs : 0;
}

QList<adminapi::RoomInfo> AdminService::remoteRoomInfos(bool withParticipants) const
{
    QList<adminapi::RoomInfo> out;
    if (!m_cluster)
        return out;
    for (const cluster::ClusterBus::RoomSummary &r : m_cluster->directory().rooms) {
        if (m_rooms.find(r.id))
            continue; // served here: the room service knows it better
        adminapi::RoomInfo info;
        info.id = r.id;
        info.appointmentId = r.appointmentId;
        info.connectionCount = static_cast<int>(r.members.size());
        info.createdAt = fromMs(r.createdAtMs);
        info.lastActivity = info.createdAt;
        info.waitingCount = static_cast<int>(r.waiting.size());
        info.waitingRoom = r.waitingRoom;
        info.locked = r.locked;
        for (const SharedMember &m : r.members) {
            if (m.host && !m.away)
                info.hostPresent = true;
            if (withParticipants) {
                info.participants.append(adminapi::ParticipantInfo{
                    m.connectionId, m.identity.userId, m.identity.userName, m.identity.role, QString(),
                    fromMs(m.joinedAtMs), fromMs(m.joinedAtMs), m.host, m.away ? u"away"_s : u"active"_s, m.instance});
            }
        }
        if (withParticipants) {
            for (const SharedMember &g : r.waiting) {
                info.waiting.append(adminapi::ParticipantInfo{
                    g.connectionId, g.identity.userId, g.identity.userName, g.identity.role, QString(),
                    fromMs(g.joinedAtMs), fromMs(g.joinedAtMs), false, u"waiting"_s, g.instance});
            }
        }
        out.append(info);
    }
    return out;
}

bool AdminService::roomElsewhere(const QString &roomId) const
{
    if (!m_cluster)
        return false;
    for (const cluster::ClusterBus::RoomSummary &r : m_cluster->directory().rooms) {
        if (r.id == roomId)
            return true;
    }
    return false;
}

adminapi::RoomPage AdminService::roomPage(int offset, int limit, const QString &filter) const
{
    const auto matches = [&filter](const Room &room) {
        if (filter.isEmpty() || room.id().contains(filter, Qt::CaseInsensitive)
            || QString::number(room.appointmentId()) == filter)
            return true;
        for (const Member &m : room.members()) {
            if (m.identity.userId.contains(filter, Qt::CaseInsensitive)
                || m.identity.userName.contains(filter, Qt::CaseInsensitive))
                return true;
        }
        for (const WaitingGuest &g : room.waiting()) {
            if (g.identity.userId.contains(filter, Qt::CaseInsensitive)
                || g.identity.userName.contains(filter, Qt::CaseInsensitive))
                return true;
        }
        return false;
    };
    QList<adminapi::RoomInfo> selected;
    for (const Room *room : m_rooms.rooms()) {
        if (matches(*room))
            selected.append(roomInfo(*room, false));
    }
    // Cluster mode: and the rooms of the other instances.
    for (const adminapi::RoomInfo &r : remoteRoomInfos(true)) {
        bool hit = filter.isEmpty() || r.id.contains(filter, Qt::CaseInsensitive)
            || QString::number(r.appointmentId) == filter;
        for (const adminapi::ParticipantInfo &p : r.participants + r.waiting) {
            hit = hit || p.userId.contains(filter, Qt::CaseInsensitive)
                || p.userName.contains(filter, Qt::CaseInsensitive);
        }
        if (hit) {
            adminapi::RoomInfo summary = r;
            summary.participants.clear();
            summary.waiting.clear();
            selected.append(summary);
        }
    }
    std::sort(selected.begin(), selected.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    adminapi::RoomPage page;
    page.total = static_cast<int>(selected.size());
    page.offset = std::clamp(offset, 0, page.total);
    page.limit = std::clamp(limit, 1, 500);
    page.filter = filter;
    for (qsizetype i = page.offset; i < selected.size() && page.rooms.size() < page.limit; ++i)
        page.rooms.append(selected[i]);
    return page;
}

std::optional<adminapi::RoomInfo> AdminService::room(const QString &roomId) const
{
    if (const Room *room = m_rooms.find(roomId))
        return roomInfo(*room, true);
    for (const adminapi::RoomInfo &r : remoteRoomInfos(true)) {
        if (r.id == roomId)
            return r;
    }
    return std::nullopt;
}

adminapi::Health AdminService::health(bool withRoomDetails) const
{
    adminapi::Health h;
    h.status = m_draining ? u"draining"_s : u"healthy"_s;
    h.timestamp = QDateTime::currentDateTimeUtc();
    h.uptimeSeconds = static_cast<double>(m_uptime.elapsed()) / 1000.0;
    h.connections = m_connections.count();
    h.rooms = static_cast<int>(m_rooms.count());
    if (withRoomDetails)
        h.roomDetails = roomInfos(false);
    h.insecure = m_config.mode == Mode::Production && m_config.insecureNoAuth;
    if (m_auditHealth) {
        h.audit = m_auditHealth();
        // Still serving, but not recording: monitoring must notice.
        if (h.audit->behind && !m_draining)
            h.status = u"degraded"_s;
    }
    h.cluster = clusterInfo();
    // Without Redis the instance serves only rooms whose members are all
    // here: monitoring must notice.
    if (h.cluster && !h.cluster->available && !m_draining)
        h.status = u"degraded"_s;
    return h;
}

QString AdminService::mode() const
{
    return modeName(m_config.mode);
}

adminapi::Stats AdminService::stats() const
{
    adminapi::Stats s;
    s.version = QString::fromLatin1(MEDRELAY_VERSION);
    s.status = m_draining ? u"draining"_s : u"healthy"_s;
    s.mode = modeName(m_config.mode);
    s.timestamp = QDateTime::currentDateTimeUtc();
    s.uptimeSeconds = static_cast<double>(m_uptime.elapsed()) / 1000.0;
    s.connections = m_connections.count();
    s.rooms = roomInfos(true);
    for (int i = 0; i < protocol::kMessageKindCount; ++i) {
        const auto kind = static_cast<protocol::MessageKind>(i);
        if (protocol::direction(kind) == protocol::Direction::ClientToServer)
            s.messagesByType.insert(QString(protocol::wireName(kind)), m_metrics.messagesIn(kind));
    }
    for (int i = 0; i < protocol::kErrorCodeCount; ++i) {
        const auto code = static_cast<protocol::ErrorCode>(i);
        if (const qint64 n = m_metrics.errors(code))
            s.errorsByReason.insert(QString(protocol::wireName(code)), n);
    }
    for (int i = 0; i < static_cast<int>(Rejection::Count); ++i) {
        const auto r = static_cast<Rejection>(i);
        if (const qint64 n = m_metrics.rejections(r))
            s.rejectionsByReason.insert(QString(rejectionName(r)), n);
    }
    const auto rates = m_metrics.rates();
    s.perSecond = {rates.messagesIn, rates.messagesOut, rates.bytesIn, rates.bytesOut};
    s.totals = {m_metrics.totalMessagesIn(), m_metrics.totalMessagesOut(), m_metrics.totalBytesIn(),
                m_metrics.totalBytesOut(), m_metrics.connectionsAccepted()};
    s.residentMemoryBytes = residentMemoryBytes();
    s.cluster = clusterInfo();
    if (s.cluster && !s.cluster->available && !m_draining)
        s.status = u"degraded"_s;
    s.maxConnections = m_config.maxConnections;
    return s;
}

QByteArray AdminService::prometheus() const
{
    QByteArray out;
    const auto metric = [&out](const char *name, const char *type, const char *help) {
        out += "# HELP "_ba + name + ' ' + help + "\n# TYPE "_ba + name + ' ' + type + '\n';
    };
    const auto sample = [&out](const char *name, const QByteArray &labels, double value) {
        out += name;
        if (!labels.isEmpty())
            out += '{' + labels + '}';
        out += ' ' + QByteArray::number(value, 'g', 15) + '\n';
    };
    metric("medrelay_up", "gauge", "1 while serving, 0 while draining.");
    sample("medrelay_up", {}, m_draining ? 0 : 1);
    metric("medrelay_uptime_seconds", "gauge", "Seconds since start.");
    sample("medrelay_uptime_seconds", {}, static_cast<double>(m_uptime.elapsed()) / 1000.0);
    metric("medrelay_connections", "gauge", "Open WebSocket connections.");
    sample("medrelay_connections", {}, m_connections.count());
    metric("medrelay_rooms", "gauge", "Open rooms.");
    sample("medrelay_rooms", {}, static_cast<double>(m_rooms.count()));
    metric("medrelay_connections_accepted_total", "counter", "WebSocket connections accepted.");
    sample("medrelay_connections_accepted_total", {}, static_cast<double>(m_metrics.connectionsAccepted()));
    metric("medrelay_messages_received_total", "counter", "Client messages received, by type.");
    for (int i = 0; i < protocol::kMessageKindCount; ++i) {
        const auto kind = static_cast<protocol::MessageKind>(i);
        if (protocol::direction(kind) == protocol::Direction::ClientToServer)
            sample("medrelay_messages_received_total", "type=\"" + QByteArray(protocol::wireName(kind).data()) + '"',
                   static_cast<double>(m_metrics.messagesIn(kind)));
    }
    metric("medrelay_messages_sent_total", "counter", "Messages sent to clients.");
    sample("medrelay_messages_sent_total", {}, static_cast<double>(m_metrics.totalMessagesOut()));
    metric("medrelay_bytes_received_total", "counter", "Message bytes received.");
    sample("medrelay_bytes_received_total", {}, static_cast<double>(m_metrics.totalBytesIn()));
    metric("medrelay_bytes_sent_total", "counter", "Message bytes sent.");
    sample("medrelay_bytes_sent_total", {}, static_cast<double>(m_metrics.totalBytesOut()));
    metric("medrelay_errors_total", "counter", "Error replies sent to clients, by code.");
    for (int i = 0; i < protocol::kErrorCodeCount; ++i) {
        const auto code = static_cast<protocol::ErrorCode>(i);
        sample("medrelay_errors_total", "code=\"" + QByteArray(protocol::wireName(code).data()) + '"',
               static_cast<double>(m_metrics.errors(code)));
    }
    metric("medrelay_rejections_total", "counter", "Connections or requests refused or closed, by reason.");
    for (int i = 0; i < static_cast<int>(Rejection::Count); ++i) {
        const auto r = static_cast<Rejection>(i);
        sample("medrelay_rejections_total", "reason=\"" + QByteArray(rejectionName(r).data()) + '"',
               static_cast<double>(m_metrics.rejections(r)));
    }
    metric("medrelay_auth_failures_total", "counter", "Token verification failures, by reason.");
    const auto failures = m_metrics.authFailures();
    for (auto it = failures.cbegin(); it != failures.cend(); ++it)
        sample("medrelay_auth_failures_total", "reason=\"" + it.key().toLatin1() + '"', static_cast<double>(it.value()));
    if (m_cluster) {
        const auto c = m_cluster->counters();
        metric("medrelay_cluster_redis_up", "gauge", "1 while both connections to Redis are up.");
        sample("medrelay_cluster_redis_up", {}, m_cluster->redisConnected() ? 1 : 0);
        metric("medrelay_cluster_available", "gauge", "1 while rooms are shared with the other instances (0: degraded).");
        sample("medrelay_cluster_available", {}, m_cluster->available() ? 1 : 0);
        const cluster::ClusterBus::Directory &d = m_cluster->directory();
        int alive = 0;
        for (const auto &i : d.instances)
            alive += i.alive ? 1 : 0;
        metric("medrelay_cluster_instances", "gauge", "Instances with a live presence, as last read.");
        sample("medrelay_cluster_instances", {}, alive);
        metric("medrelay_cluster_rooms", "gauge", "Rooms with members or guests on any instance, as last read.");
        sample("medrelay_cluster_rooms", {}, d.roomCount);
        metric("medrelay_cluster_published_total", "counter", "Relayed messages this instance sent to the others.");
        sample("medrelay_cluster_published_total", {}, static_cast<double>(c.published));
        metric("medrelay_cluster_received_total", "counter", "Messages received on room channels.");
        sample("medrelay_cluster_received_total", {}, static_cast<double>(c.received));
        metric("medrelay_cluster_resyncs_total", "counter", "Rooms fetched anew after a gap or an outage.");
        sample("medrelay_cluster_resyncs_total", {}, static_cast<double>(c.resyncs));
        metric("medrelay_cluster_reaped_instances_total", "counter", "Dead instances this instance reaped.");
        sample("medrelay_cluster_reaped_instances_total", {}, static_cast<double>(c.reaped));
    }
    metric("medrelay_resident_memory_bytes", "gauge", "Resident memory of the server process.");
    sample("medrelay_resident_memory_bytes", {}, static_cast<double>(residentMemoryBytes()));
    if (m_auditHealth) {
        const adminapi::AuditHealth a = m_auditHealth();
        metric("medrelay_audit_backlog_records", "gauge", "Audit records accepted but not yet on disk.");
        sample("medrelay_audit_backlog_records", {}, static_cast<double>(a.backlog));
        metric("medrelay_audit_behind", "gauge", "1 while audit writes fail and records wait in memory.");
        sample("medrelay_audit_behind", {}, a.behind ? 1 : 0);
        metric("medrelay_audit_records_written_total", "counter", "Audit records written.");
        sample("medrelay_audit_records_written_total", {}, static_cast<double>(a.recordsWritten));
        metric("medrelay_audit_failed_writes_total", "counter", "Audit write attempts that failed.");
        sample("medrelay_audit_failed_writes_total", {}, static_cast<double>(a.failedWrites));
        metric("medrelay_audit_dropped_records_total", "counter", "Audit records dropped because the backlog was full.");
        sample("medrelay_audit_dropped_records_total", {}, static_cast<double>(a.droppedRecords));
    }
    return out;
}

adminapi::EventPage AdminService::events(qint64 since) const
{
    return m_events.since(since);
}

adminapi::ActionResult AdminService::closeRoom(const QString &roomId, const adminapi::CloseRoomRequest &request,
                                               const QString &actor)
{
    const QString reason = request.reason.isEmpty() ? u"closed by administrator"_s : request.reason;
    adminapi::ActionResult r;
    r.action = u"close_room"_s;
    if (m_cluster && !m_rooms.find(roomId) && !roomElsewhere(roomId)) {
        r.message = u"no such room"_s;
        return r;
    }
    const auto members = m_rooms.closeRoom(roomId, reason);
    r.ok = members.has_value();
    if (r.ok) {
        r.rooms = {roomId};
        r.connections = *members;
        r.message = u"room closed"_s;
        qCInfo(lcAdmin) << "admin closed room" << roomId;
        m_events.add(u"admin"_s, roomId, {}, {}, u"close_room"_s);
        Q_EMIT adminAction(actor, r.action, roomId, reason);
    } else {
        r.message = u"no such room"_s;
    }
    return r;
}

adminapi::ActionResult AdminService::endConsultation(const QString &roomId, const adminapi::CloseRoomRequest &request,
                                                     const QString &actor)
{
    adminapi::ActionResult r;
    r.action = u"end_consultation"_s;
    const Room *room = m_rooms.find(roomId);
    if (room) {
        for (const Member &m : room->members())
            r.connections.append(m.connectionId);
        for (const WaitingGuest &g : room->waiting())
            r.connections.append(g.connectionId);
    } else if (auto elsewhere = this->room(roomId)) {
        for (const adminapi::ParticipantInfo &p : elsewhere->participants + elsewhere->waiting)
            r.connections.append(p.connectionId);
    }
    r.ok = (room || (m_cluster && roomElsewhere(roomId))) && m_rooms.endByAdmin(roomId, actor);
    if (r.ok) {
        r.rooms = {roomId};
        r.message = u"consultation ended"_s;
        qCInfo(lcAdmin) << "admin ended consultation" << roomId;
        m_events.add(u"admin"_s, roomId, {}, {}, u"end_consultation"_s);
        Q_EMIT adminAction(actor, r.action, roomId, request.reason);
    } else {
        r.connections.clear();
        r.message = u"no such room"_s;
    }
    return r;
}

adminapi::ActionResult AdminService::closeIdleRooms(const adminapi::CloseIdleRequest &request, const QString &actor)
{
    const qint64 cutoff = QDateTime::currentMSecsSinceEpoch() - request.idleSeconds * 1000;
    adminapi::ActionResult r;
    r.action = request.dryRun ? u"close_idle_rooms_dry_run"_s : u"close_idle_rooms"_s;
    r.ok = true;
    if (request.dryRun) {
        r.rooms = m_rooms.idleSince(cutoff);
        r.rooms.sort();
    } else {
        const QString reason = request.reason.isEmpty() ? u"idle"_s : request.reason;
        const auto closed = m_rooms.closeRoomsIdleSince(cutoff, reason);
        r.rooms = closed.rooms;
        r.connections = closed.connections;
        qCInfo(lcAdmin) << "admin closed" << r.rooms.size() << "idle rooms";
        m_events.add(u"admin"_s, {}, {}, {}, u"close_idle_rooms %1"_s.arg(r.rooms.size()));
        Q_EMIT adminAction(actor, r.action, u"idle_seconds=%1"_s.arg(request.idleSeconds), reason);
    }
    r.message = u"%1 room(s) idle for more than %2 s"_s.arg(r.rooms.size()).arg(request.idleSeconds);
    return r;
}

adminapi::ActionResult AdminService::disconnect(const QString &connectionId, const adminapi::DisconnectRequest &request,
                                                const QString &actor)
{
    adminapi::ActionResult r;
    r.action = u"disconnect"_s;
    Connection *c = m_connections.find(connectionId);
    if (!c && m_cluster) {
        // On another instance: asked to close it there.
        const QString instance = m_cluster->instanceOf(connectionId);
        if (!instance.isEmpty() && instance != m_cluster->instanceId()) {
            const QString reason = request.reason.isEmpty() ? u"disconnected by administrator"_s : request.reason;
            m_cluster->disconnectElsewhere(instance, connectionId, reason);
            r.ok = true;
            r.connections = {connectionId};
            r.message = u"connection closed on instance %1"_s.arg(instance);
            m_events.add(u"admin"_s, {}, connectionId, {}, u"disconnect"_s);
            Q_EMIT adminAction(actor, r.action, connectionId, reason);
            return r;
        }
    }
    if (!c) {
        r.message = u"no such connection"_s;
        return r;
    }
    const QString reason = request.reason.isEmpty() ? u"disconnected by administrator"_s : request.reason;
    m_metrics.rejection(Rejection::Kicked);
    c->closeWith(protocol::CloseCode::Kicked, reason);
    r.ok = true;
    r.connections = {connectionId};
    r.message = u"connection closed"_s;
    m_events.add(u"admin"_s, {}, connectionId, c->identity().userId, u"disconnect"_s);
    Q_EMIT adminAction(actor, r.action, connectionId, reason);
    return r;
}

} // namespace medrelay::server
