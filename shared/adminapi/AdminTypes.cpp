#include "adminapi/AdminTypes.h"

#include <QJsonArray>

#include <limits>

namespace medrelay::adminapi {

using namespace Qt::StringLiterals;

namespace {

QJsonObject mapToJson(const QMap<QString, qint64> &m)
{
    QJsonObject o;
    for (auto it = m.cbegin(); it != m.cend(); ++it)
        o.insert(it.key(), static_cast<double>(it.value()));
    return o;
}

QMap<QString, qint64> mapFromJson(const QJsonValue &v)
{
    QMap<QString, qint64> m;
    const QJsonObject o = v.toObject();
    for (auto it = o.constBegin(); it != o.constEnd(); ++it)
        m.insert(it.key(), it.value().toInteger());
    return m;
}

// Integral numbers within qint64's range; anything else (fractions,
// 1e300, strings) reads as 0 rather than as undefined behaviour.
qint64 toInt64(const QJsonValue &v)
{
    return v.toInteger();
}

QStringList stringsFromJson(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &e : v.toArray())
        out.append(e.toString());
    return out;
}

} // namespace

QString toIso(const QDateTime &t)
{
    if (!t.isValid())
        return {};
    return t.toUTC().toString(Qt::ISODateWithMs);
}

QDateTime fromIso(const QString &s)
{
    return QDateTime::fromString(s, Qt::ISODateWithMs);
}

QJsonObject ParticipantInfo::toJson() const
{
    QJsonObject o{{u"connectionId"_s, connectionId},
            {u"userId"_s, userId},
            {u"userName"_s, userName},
            {u"role"_s, role},
            {u"address"_s, address},
            {u"joinedAt"_s, toIso(joinedAt)},
            {u"lastActivity"_s, toIso(lastActivity)},
            {u"host"_s, host},
            {u"state"_s, state}};
    if (!instance.isEmpty())
        o.insert(u"instance"_s, instance);
    return o;
}

std::optional<ParticipantInfo> ParticipantInfo::fromJson(const QJsonObject &o)
{
    if (!o.value("connectionId"_L1).isString())
        return std::nullopt;
    ParticipantInfo p;
    p.connectionId = o.value("connectionId"_L1).toString();
    const QJsonValue uid = o.value("userId"_L1);
    p.userId = uid.isDouble() ? QString::number(toInt64(uid)) : uid.toString();
    p.userName = o.value("userName"_L1).toString();
    p.role = o.value("role"_L1).toString();
    p.address = o.value("address"_L1).toString();
    p.joinedAt = fromIso(o.value("joinedAt"_L1).toString());
    p.lastActivity = fromIso(o.value("lastActivity"_L1).toString());
    p.host = o.value("host"_L1).toBool();
    p.state = o.value("state"_L1).toString();
    p.instance = o.value("instance"_L1).toString();
    return p;
}

QJsonObject RoomInfo::toJson(Detail detail) const
{
    QJsonObject o{{u"id"_s, id},
                  {u"connectionCount"_s, connectionCount},
                  {u"appointmentId"_s, static_cast<double>(appointmentId)},
                  {u"lastActivity"_s, toIso(lastActivity)},
                  {u"waitingCount"_s, waitingCount},
                  {u"waitingRoom"_s, waitingRoom},
                  {u"locked"_s, locked},
                  {u"hostPresent"_s, hostPresent},
                  {u"lastSeq"_s, static_cast<double>(lastSeq)}};
    if (detail != Detail::Health)
        o.insert(u"createdAt"_s, toIso(createdAt));
    if (detail == Detail::Full) {
        QJsonArray list;
        for (const auto &p : participants)
            list.append(p.toJson());
        o.insert(u"participants"_s, list);
        QJsonArray waitingList;
        for (const auto &p : waiting)
            waitingList.append(p.toJson());
        o.insert(u"waiting"_s, waitingList);
        o.insert(u"messagesByType"_s, mapToJson(messagesByType));
    }
    return o;
}

std::optional<RoomInfo> RoomInfo::fromJson(const QJsonObject &o)
{
    if (!o.value("id"_L1).isString())
        return std::nullopt;
    RoomInfo r;
    r.id = o.value("id"_L1).toString();
    r.appointmentId = toInt64(o.value("appointmentId"_L1));
    r.connectionCount = o.value("connectionCount"_L1).toInt();
    r.createdAt = fromIso(o.value("createdAt"_L1).toString());
    r.lastActivity = fromIso(o.value("lastActivity"_L1).toString());
    for (const QJsonValue &v : o.value("participants"_L1).toArray()) {
        auto p = ParticipantInfo::fromJson(v.toObject());
        if (!p)
            return std::nullopt;
        r.participants.append(*p);
    }
    r.waitingCount = o.value("waitingCount"_L1).toInt();
    r.waitingRoom = o.value("waitingRoom"_L1).toBool();
    r.locked = o.value("locked"_L1).toBool();
    r.hostPresent = o.value("hostPresent"_L1).toBool();
    r.lastSeq = toInt64(o.value("lastSeq"_L1));
    for (const QJsonValue &v : o.value("waiting"_L1).toArray()) {
        auto p = ParticipantInfo::fromJson(v.toObject());
        if (!p)
            return std::nullopt;
        r.waiting.append(*p);
    }
    r.messagesByType = mapFromJson(o.value("messagesByType"_L1));
    return r;
}

QJsonObject AuditHealth::toJson() const
{
    return {{u"backlog"_s, static_cast<double>(backlog)},
            {u"failedWrites"_s, static_cast<double>(failedWrites)},
            {u"droppedRecords"_s, static_cast<double>(droppedRecords)},
            {u"recordsWritten"_s, static_cast<double>(recordsWritten)},
            {u"behind"_s, behind}};
}

AuditHealth AuditHealth::fromJson(const QJsonObject &o)
{
    AuditHealth a;
    a.backlog = toInt64(o.value("backlog"_L1));
    a.failedWrites = toInt64(o.value("failedWrites"_L1));
    a.droppedRecords = toInt64(o.value("droppedRecords"_L1));
    a.recordsWritten = toInt64(o.value("recordsWritten"_L1));
    a.behind = o.value("behind"_L1).toBool();
    return a;
}

QJsonObject RoomPage::toJson() const
{
    QJsonArray list;
    for (const auto &r : rooms)
        list.append(r.toJson(RoomInfo::Detail::Summary));
    return {{u"total"_s, total}, {u"offset"_s, offset}, {u"limit"_s, limit}, {u"filter"_s, filter},
            {u"rooms"_s, list}};
}

std::optional<RoomPage> RoomPage::fromJson(const QJsonObject &o)
{
    if (!o.value("rooms"_L1).isArray() || !o.value("total"_L1).isDouble())
        return std::nullopt;
    RoomPage p;
    p.total = o.value("total"_L1).toInt();
    p.offset = o.value("offset"_L1).toInt();
    p.limit = o.value("limit"_L1).toInt();
    p.filter = o.value("filter"_L1).toString();
    for (const QJsonValue &v : o.value("rooms"_L1).toArray()) {
        auto r = RoomInfo::fromJson(v.toObject());
        if (!r)
            return std::nullopt;
        p.rooms.append(*r);
    }
    return p;
}

QJsonObject ClusterInstance::toJson() const
{
    return {{u"id"_s, id},           {u"name"_s, name},   {u"alive"_s, alive},
            {u"self"_s, self},       {u"connections"_s, connections},
            {u"rooms"_s, rooms}};
}

ClusterInstance ClusterInstance::fromJson(const QJsonObject &o)
{
    ClusterInstance i;
    i.id = o.value("id"_L1).toString();
    i.name = o.value("name"_L1).toString();
    i.alive = o.value("alive"_L1).toBool();
    i.self = o.value("self"_L1).toBool();
    i.connections = o.value("connections"_L1).toInt();
    i.rooms = o.value("rooms"_L1).toInt();
    return i;
}

QJsonObject ClusterInfo::toJson() const
{
    QJsonArray list;
    for (const ClusterInstance &i : instances)
        list.append(i.toJson());
    return {{u"instance"_s, instance},
            {u"redis"_s, redisConnected ? u"connected"_s : u"disconnected"_s},
            {u"available"_s, available},
            {u"rooms"_s, rooms},
            {u"instances"_s, list}};
}

ClusterInfo ClusterInfo::fromJson(const QJsonObject &o)
{
    ClusterInfo c;
    c.instance = o.value("instance"_L1).toString();
    c.redisConnected = o.value("redis"_L1).toString() == "connected"_L1;
    c.available = o.value("available"_L1).toBool();
    c.rooms = o.value("rooms"_L1).toInt();
    for (const QJsonValue &v : o.value("instances"_L1).toArray())
        c.instances.append(ClusterInstance::fromJson(v.toObject()));
    return c;
}

QJsonObject Health::toJson() const
{
    QJsonObject o{{u"status"_s, status},
                  {u"timestamp"_s, toIso(timestamp)},
                  {u"uptime"_s, uptimeSeconds},
                  {u"connections"_s, connections},
                  {u"rooms"_s, rooms}};
    if (roomDetails) {
        QJsonArray list;
        for (const auto &r : *roomDetails)
            list.append(r.toJson(RoomInfo::Detail::Health));
        o.insert(u"roomDetails"_s, list);
    }
    if (insecure)
        o.insert(u"insecure"_s, true);
    if (audit)
        o.insert(u"audit"_s, audit->toJson());
    if (cluster)
        o.insert(u"cluster"_s, cluster->toJson());
    return o;
}

std::optional<Health> Health::fromJson(const QJsonObject &o)
{
    if (!o.value("status"_L1).isString() || !o.value("uptime"_L1).isDouble())
        return std::nullopt;
    Health h;
    h.status = o.value("status"_L1).toString();
    h.timestamp = fromIso(o.value("timestamp"_L1).toString());
    h.uptimeSeconds = o.value("uptime"_L1).toDouble();
    h.connections = o.value("connections"_L1).toInt();
    h.rooms = o.value("rooms"_L1).toInt();
    h.insecure = o.value("insecure"_L1).toBool();
    if (o.value("audit"_L1).isObject())
        h.audit = AuditHealth::fromJson(o.value("audit"_L1).toObject());
    if (o.value("cluster"_L1).isObject())
        h.cluster = ClusterInfo::fromJson(o.value("cluster"_L1).toObject());
    if (o.contains("roomDetails"_L1)) {
        QList<RoomInfo> rooms;
        for (const QJsonValue &v : o.value("roomDetails"_L1).toArray()) {
            auto r = RoomInfo::fromJson(v.toObject());
            if (!r)
                return std::nullopt;
            rooms.append(*r);
        }
        h.roomDetails = rooms;
    }
    return h;
}

QJsonObject Rates::toJson() const
{
    return {{u"messagesIn"_s, messagesIn},
            {u"messagesOut"_s, messagesOut},
            {u"bytesIn"_s, bytesIn},
            {u"bytesOut"_s, bytesOut}};
}

Rates Rates::fromJson(const QJsonObject &o)
{
    return {o.value("messagesIn"_L1).toDouble(), o.value("messagesOut"_L1).toDouble(),
            o.value("bytesIn"_L1).toDouble(), o.value("bytesOut"_L1).toDouble()};
}

QJsonObject Totals::toJson() const
{
    return {{u"messagesIn"_s, static_cast<double>(messagesIn)},
            {u"messagesOut"_s, static_cast<double>(messagesOut)},
            {u"bytesIn"_s, static_cast<double>(bytesIn)},
            {u"bytesOut"_s, static_cast<double>(bytesOut)},
            {u"connectionsAccepted"_s, static_cast<double>(connectionsAccepted)}};
}

Totals Totals::fromJson(const QJsonObject &o)
{
    return {toInt64(o.value("messagesIn"_L1)), toInt64(o.value("messagesOut"_L1)),
            toInt64(o.value("bytesIn"_L1)), toInt64(o.value("bytesOut"_L1)),
            toInt64(o.value("connectionsAccepted"_L1))};
}

QJsonObject Stats::toJson() const
{
    QJsonArray roomList;
    for (const auto &r : rooms)
        roomList.append(r.toJson(RoomInfo::Detail::Full));
    QJsonObject o{{u"version"_s, version},
                  {u"status"_s, status},
                  {u"mode"_s, mode},
                  {u"timestamp"_s, toIso(timestamp)},
                  {u"uptime"_s, uptimeSeconds},
                  {u"connections"_s, connections},
                  {u"rooms"_s, static_cast<int>(rooms.size())},
                  {u"roomDetails"_s, roomList},
                  {u"messagesByType"_s, mapToJson(messagesByType)},
                  {u"errorsByReason"_s, mapToJson(errorsByReason)},
                  {u"rejectionsByReason"_s, mapToJson(rejectionsByReason)},
                  {u"perSecond"_s, perSecond.toJson()},
                  {u"totals"_s, totals.toJson()},
                  {u"residentMemoryBytes"_s, static_cast<double>(residentMemoryBytes)}};
    if (cluster)
        o.insert(u"cluster"_s, cluster->toJson());
    if (maxConnections > 0)
        o.insert(u"maxConnections"_s, maxConnections);
    return o;
}

std::optional<Stats> Stats::fromJson(const QJsonObject &o)
{
    if (!o.value("version"_L1).isString() || !o.value("roomDetails"_L1).isArray())
        return std::nullopt;
    Stats s;
    s.version = o.value("version"_L1).toString();
    s.status = o.value("status"_L1).toString();
    s.mode = o.value("mode"_L1).toString();
    s.timestamp = fromIso(o.value("timestamp"_L1).toString());
    s.uptimeSeconds = o.value("uptime"_L1).toDouble();
    s.connections = o.value("connections"_L1).toInt();
    for (const QJsonValue &v : o.value("roomDetails"_L1).toArray()) {
        auto r = RoomInfo::fromJson(v.toObject());
        if (!r)
            return std::nullopt;
        s.rooms.append(*r);
    }
    s.messagesByType = mapFromJson(o.value("messagesByType"_L1));
    s.errorsByReason = mapFromJson(o.value("errorsByReason"_L1));
    s.rejectionsByReason = mapFromJson(o.value("rejectionsByReason"_L1));
    s.perSecond = Rates::fromJson(o.value("perSecond"_L1).toObject());
    s.totals = Totals::fromJson(o.value("totals"_L1).toObject());
    s.residentMemoryBytes = toInt64(o.value("residentMemoryBytes"_L1));
    if (o.value("cluster"_L1).isObject())
        s.cluster = ClusterInfo::fromJson(o.value("cluster"_L1).toObject());
    // Older servers do not send it; anything but a positive count means "not said".
    if (const QJsonValue cap = o.value("maxConnections"_L1); cap.isDouble() && cap.toDouble() >= 1
        && cap.toDouble() <= std::numeric_limits<int>::max())
        s.maxConnections = cap.toInt();
    return s;
}

QJsonObject Counters::toJson() const
{
    QJsonObject o{{u"status"_s, status},
                  {u"version"_s, version},
                  {u"mode"_s, mode},
                  {u"uptime"_s, uptimeSeconds},
                  {u"connections"_s, connections},
                  {u"maxConnections"_s, maxConnections},
                  {u"rooms"_s, rooms},
                  {u"adminStreams"_s, adminStreams},
                  {u"residentMemoryBytes"_s, static_cast<double>(residentMemoryBytes)},
                  {u"rejectionsByReason"_s, mapToJson(rejectionsByReason)},
                  {u"perSecond"_s, perSecond.toJson()},
                  {u"totals"_s, totals.toJson()}};
    if (audit)
        o.insert(u"audit"_s, audit->toJson());
    if (cluster)
        o.insert(u"cluster"_s, cluster->toJson());
    return o;
}

std::optional<Counters> Counters::fromJson(const QJsonObject &o)
{
    if (!o.value("status"_L1).isString() || !o.value("connections"_L1).isDouble())
        return std::nullopt;
    Counters c;
    c.status = o.value("status"_L1).toString();
    c.version = o.value("version"_L1).toString();
    c.mode = o.value("mode"_L1).toString();
    c.uptimeSeconds = o.value("uptime"_L1).toDouble();
    c.connections = o.value("connections"_L1).toInt();
    if (const QJsonValue cap = o.value("maxConnections"_L1);
        cap.isDouble() && cap.toDouble() >= 1 && cap.toDouble() <= std::numeric_limits<int>::max())
        c.maxConnections = cap.toInt();
    c.rooms = o.value("rooms"_L1).toInt();
    c.adminStreams = o.value("adminStreams"_L1).toInt();
    c.residentMemoryBytes = toInt64(o.value("residentMemoryBytes"_L1));
    c.rejectionsByReason = mapFromJson(o.value("rejectionsByReason"_L1));
    c.perSecond = Rates::fromJson(o.value("perSecond"_L1).toObject());
    c.totals = Totals::fromJson(o.value("totals"_L1).toObject());
    if (o.value("audit"_L1).isObject())
        c.audit = AuditHealth::fromJson(o.value("audit"_L1).toObject());
    if (o.value("cluster"_L1).isObject())
        c.cluster = ClusterInfo::fromJson(o.value("cluster"_L1).toObject());
    return c;
}

QJsonObject Event::toJson() const
{
    QJsonObject o{{u"seq"_s, static_cast<double>(seq)},
                  {u"timestamp"_s, toIso(timestamp)},
                  {u"kind"_s, kind}};
    if (!roomId.isEmpty())
        o.insert(u"roomId"_s, roomId);
    if (!connectionId.isEmpty())
        o.insert(u"connectionId"_s, connectionId);
    if (!userId.isEmpty())
        o.insert(u"userId"_s, userId);
    if (!detail.isEmpty())
        o.insert(u"detail"_s, detail);
    return o;
}

std::optional<Event> Event::fromJson(const QJsonObject &o)
{
    if (!o.value("seq"_L1).isDouble() || !o.value("kind"_L1).isString())
        return std::nullopt;
    Event e;
    e.seq = toInt64(o.value("seq"_L1));
    e.timestamp = fromIso(o.value("timestamp"_L1).toString());
    e.kind = o.value("kind"_L1).toString();
    e.roomId = o.value("roomId"_L1).toString();
    e.connectionId = o.value("connectionId"_L1).toString();
    e.userId = o.value("userId"_L1).toString();
    e.detail = o.value("detail"_L1).toString();
    return e;
}

QJsonObject EventPage::toJson() const
{
    QJsonArray list;
    for (const auto &e : events)
        list.append(e.toJson());
    return {{u"nextSeq"_s, static_cast<double>(nextSeq)}, {u"events"_s, list}};
}

std::optional<EventPage> EventPage::fromJson(const QJsonObject &o)
{
    if (!o.value("events"_L1).isArray())
        return std::nullopt;
    EventPage p;
    p.nextSeq = toInt64(o.value("nextSeq"_L1));
    for (const QJsonValue &v : o.value("events"_L1).toArray()) {
        auto e = Event::fromJson(v.toObject());
        if (!e)
            return std::nullopt;
        p.events.append(*e);
    }
    return p;
}

QJsonObject CloseRoomRequest::toJson() const
{
    return {{u"reason"_s, reason}};
}

std::optional<CloseRoomRequest> CloseRoomRequest::fromJson(const QJsonObject &o)
{
    const QJsonValue r = o.value("reason"_L1);
    if (!r.isUndefined() && (!r.isString() || r.toString().size() > 256))
        return std::nullopt;
    return CloseRoomRequest{r.toString()};
}

QJsonObject CloseIdleRequest::toJson() const
{
    return {{u"idleSeconds"_s, static_cast<double>(idleSeconds)},
            {u"reason"_s, reason},
            {u"dryRun"_s, dryRun}};
}

std::optional<CloseIdleRequest> CloseIdleRequest::fromJson(const QJsonObject &o)
{
    const QJsonValue idle = o.value("idleSeconds"_L1);
    const QJsonValue r = o.value("reason"_L1);
    if (!idle.isDouble() || idle.toDouble() < 0 || idle.toDouble() > 365.0 * 86400)
        return std::nullopt;
    if (!r.isUndefined() && (!r.isString() || r.toString().size() > 256))
        return std::nullopt;
    return CloseIdleRequest{toInt64(idle), r.toString(), o.value("dryRun"_L1).toBool()};
}

QJsonObject DisconnectRequest::toJson() const
{
    return {{u"reason"_s, reason}};
}

std::optional<DisconnectRequest> DisconnectRequest::fromJson(const QJsonObject &o)
{
    const QJsonValue r = o.value("reason"_L1);
    if (!r.isUndefined() && (!r.isString() || r.toString().size() > 256))
        return std::nullopt;
    return DisconnectRequest{r.toString()};
}

QJsonObject ActionResult::toJson() const
{
    return {{u"ok"_s, ok},
            {u"action"_s, action},
            {u"rooms"_s, QJsonArray::fromStringList(rooms)},
            {u"connections"_s, QJsonArray::fromStringList(connections)},
            {u"message"_s, message}};
}

std::optional<ActionResult> ActionResult::fromJson(const QJsonObject &o)
{
    if (!o.value("ok"_L1).isBool())
        return std::nullopt;
    return ActionResult{o.value("ok"_L1).toBool(), o.value("action"_L1).toString(),
                        stringsFromJson(o.value("rooms"_L1)),
                        stringsFromJson(o.value("connections"_L1)),
                        o.value("message"_L1).toString()};
}

} // namespace medrelay::adminapi
