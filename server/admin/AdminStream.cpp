#include "admin/AdminStream.h"

#include "admin/AdminService.h"
#include "adminapi/AdminTypes.h"
#include "consultation/RoomService.h"
#include "events/EventLog.h"
#include "metrics/Metrics.h"
#include "protocol/JsonScanner.h"
#include "realtime/Connection.h"
#include "realtime/ConnectionManager.h"

#include <medrelay/Version.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QUrlQuery>

namespace medrelay::server {

using namespace Qt::StringLiterals;

namespace {

// The stream's messages are not kinds of the client protocol; the kind an
// OutboundMessage carries is only informational, and these never reach a
// client socket.
constexpr protocol::MessageKind kStreamKind = protocol::MessageKind::RoomState;

QString onOff(bool b)
{
    return b ? u"on"_s : u"off"_s;
}

// Entries of the event ring that no room change carries (room events reach
// consoles as changes already).
bool isServerEvent(const QString &kind)
{
    return kind == "admin"_L1 || kind == "auth_failed"_L1 || kind == "token_expired"_L1;
}

} // namespace

AdminStream::AdminStream(RoomService &rooms, AdminService &admin, ConnectionManager &connections, int ringCapacity,
                         QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
    , m_admin(admin)
    , m_connections(connections)
    , m_ringCapacity(ringCapacity)
    // Another epoch after a restart: a console's seq from before means nothing.
    , m_epoch(QString::number(QRandomGenerator::system()->generate64(), 36))
{
    m_ticker.setInterval(1000);
    m_ticker.setTimerType(Qt::CoarseTimer);
    connect(&m_ticker, &QTimer::timeout, this, &AdminStream::tick);
    m_ticker.start();
    connect(&m_admin.eventLog(), &EventLog::added, this, &AdminStream::onLogged);
}

void AdminStream::subscribe(Connection *connection)
{
    m_subscribers.removeAll(nullptr);
    m_subscribers.append(connection);
    connect(connection, &Connection::closed, this, [this](Connection *c) { m_subscribers.removeAll(c); });

    const QUrlQuery query(connection->requestUrl());
    bool ok = false;
    const qint64 since = query.queryItemValue(u"since"_s).toLongLong(&ok);
    const QString epoch = query.queryItemValue(u"epoch"_s);
    const qint64 oldest = m_ring.empty() ? m_seq + 1 : m_ring.front().first;
    if (ok && epoch == m_epoch && since <= m_seq && since + 1 >= oldest) {
        // Resumable: what it missed, from the ring.
        connection->send(OutboundMessage(
            kStreamKind,
            QJsonObject{{u"type"_s, u"resumed"_s}, {u"epoch"_s, m_epoch}, {u"seq"_s, static_cast<double>(since)}}));
        for (const auto &[seq, message] : m_ring) {
            if (seq > since)
                connection->send(message);
        }
        return;
    }
    // A first connection, or one the ring no longer covers: everything anew.
    connection->send(sharedSnapshot(ok));
}

const OutboundMessage &AdminStream::sharedSnapshot(bool reset)
{
    CachedSnapshot &cached = m_snapshots[reset ? 1 : 0];
    if (cached.seq != m_seq) {
        cached.message = snapshot(reset);
        cached.seq = m_seq;
    }
    return cached.message;
}

OutboundMessage AdminStream::snapshot(bool reset) const
{
    // Whole rooms, with their participants and waiting guests: a console
    // knows who is where from the start, and changes keep that up to date.
    QJsonArray rooms;
    for (const Room *room : m_rooms.rooms())
        rooms.append(m_admin.roomInfo(*room, true).toJson(adminapi::RoomInfo::Detail::Full));
    // Rooms elsewhere as the stream last described them, so the changes
    // that follow apply to what this snapshot holds.
    for (auto it = m_elsewhere.cbegin(); it != m_elsewhere.cend(); ++it) {
        if (!m_rooms.find(it.key()))
            rooms.append(it.value());
    }
    QJsonObject o{{u"type"_s, u"snapshot"_s},
                  {u"epoch"_s, m_epoch},
                  {u"seq"_s, static_cast<double>(m_seq)},
                  {u"at"_s, static_cast<double>(QDateTime::currentMSecsSinceEpoch())},
                  {u"counters"_s, counters()},
                  {u"rooms"_s, rooms}};
    if (reset)
        o.insert(u"reset"_s, true);
    return OutboundMessage(kStreamKind, o);
}

QJsonObject AdminStream::counters() const
{
    const adminapi::Health h = m_admin.state();
    const Metrics &m = m_admin.metrics();
    const auto rates = m.rates();
    adminapi::Counters c;
    c.status = h.status;
    c.version = QString::fromLatin1(MEDRELAY_VERSION);
    c.mode = m_admin.mode();
    c.uptimeSeconds = h.uptimeSeconds;
    c.connections = h.connections;
    c.maxConnections = m_admin.maxConnections();
    c.rooms = h.rooms;
    c.adminStreams = m_connections.adminStreamCount();
    c.residentMemoryBytes = residentMemoryBytes();
    for (int i = 0; i < static_cast<int>(Rejection::Count); ++i) {
        const auto r = static_cast<Rejection>(i);
        if (const qint64 n = m.rejections(r))
            c.rejectionsByReason.insert(QString(rejectionName(r)), n);
    }
    c.perSecond = {rates.messagesIn, rates.messagesOut, rates.bytesIn, rates.bytesOut};
    c.totals = {m.totalMessagesIn(), m.totalMessagesOut(), m.totalBytesIn(), m.totalBytesOut(),
                m.connectionsAccepted()};
    c.audit = h.audit;
    c.cluster = h.cluster; // cluster mode: every instance with its connections and rooms
    return c.toJson();
}

QJsonObject AdminStream::roomSummary(const QString &roomId) const
{
    const Room *room = m_rooms.find(roomId);
    return room ? m_admin.roomInfo(*room, false).toJson(adminapi::RoomInfo::Detail::Summary) : QJsonObject{};
}

void AdminStream::publish(const QString &change, QJsonObject fields)
{
    fields.insert(u"type"_s, u"change"_s);
    fields.insert(u"change"_s, change);
    fields.insert(u"epoch"_s, m_epoch);
    fields.insert(u"seq"_s, static_cast<double>(++m_seq));
    fields.insert(u"at"_s, static_cast<double>(QDateTime::currentMSecsSinceEpoch()));
    // Serialised once; every console gets the same bytes.
    send(OutboundMessage(kStreamKind, fields));
}

void AdminStream::publishText(QByteArray json)
{
    json += ",\"type\":\"change\",\"epoch\":";
    protocol::appendJsonString(json, m_epoch);
    json += ",\"seq\":" + QByteArray::number(++m_seq);
    json += ",\"at\":" + QByteArray::number(QDateTime::currentMSecsSinceEpoch()) + '}';
    send(OutboundMessage(kStreamKind, std::move(json)));
}

void AdminStream::send(const OutboundMessage &message)
{
    m_ring.emplace_back(m_seq, message.kept()); // held for resuming consoles: no slack
    while (static_cast<int>(m_ring.size()) > m_ringCapacity)
        m_ring.pop_front();
    for (const QPointer<Connection> &c : std::as_const(m_subscribers)) {
        if (c)
            c->send(message);
    }
}

void AdminStream::publishActivity()
{
    // One pass over the rooms a second, written by hand: at 2,000 busy rooms
    // this is most of what the stream costs the relay thread.
    QByteArray json = "{\"change\":\"activity\",\"rooms\":[";
    const qsizetype empty = json.size();
    for (const Room *room : m_rooms.rooms()) {
        const qint64 last = room->lastActivityMs();
        auto it = m_activitySent.find(room->id());
        if (it != m_activitySent.end() && *it == last)
            continue;
        if (it == m_activitySent.end())
            m_activitySent.insert(room->id(), last);
        else
            *it = last;
        if (json.size() > empty)
            json += ',';
        json += '[';
        protocol::appendJsonString(json, room->id());
        json += ',' + QByteArray::number(last) + ',' + QByteArray::number(room->lastSeq()) + ']';
    }
    if (json.size() == empty)
        return;
    json += ']';
    publishText(std::move(json));
}

void AdminStream::publishElsewhere()
{
    const qint64 readAt = m_admin.directoryReadAtMs();
    if (readAt <= 0 || readAt == m_elsewhereReadAtMs)
        return;
    m_elsewhereReadAtMs = readAt;
    QHash<QString, QJsonObject> now;
    for (const adminapi::RoomInfo &room : m_admin.roomsElsewhere())
        now.insert(room.id, room.toJson(adminapi::RoomInfo::Detail::Full));
    QStringList gone;
    for (auto it = m_elsewhere.cbegin(); it != m_elsewhere.cend(); ++it) {
        if (!now.contains(it.key()))
            gone.append(it.key());
    }
    gone.sort();
    for (const QString &roomId : std::as_const(gone)) {
        m_elsewhere.remove(roomId);
        // Served here now: its room_opened said so already.
        if (!m_rooms.find(roomId))
            publish(u"room_closed"_s, {{u"roomId"_s, roomId}, {u"reason"_s, u"closed_elsewhere"_s}});
    }
    QStringList ids = now.keys();
    ids.sort();
    for (const QString &roomId : std::as_const(ids)) {
        const QJsonObject &room = now[roomId];
        auto known = m_elsewhere.find(roomId);
        if (known != m_elsewhere.end() && *known == room)
            continue;
        m_elsewhere.insert(roomId, room);
        publish(u"room_elsewhere"_s, {{u"roomId"_s, roomId}, {u"room"_s, room}});
    }
}

void AdminStream::onLogged(const adminapi::Event &event)
{
    if (isServerEvent(event.kind))
        publish(u"event"_s, {{u"event"_s, event.toJson()}});
}

void AdminStream::roomEvent(const events::RoomEvent &event)
{
    std::visit(
        events::Overloaded{
            [this](const events::RoomOpened &e) {
                publish(u"room_opened"_s, {{u"roomId"_s, e.roomId}, {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::RoomClosed &e) {
                m_activitySent.remove(e.roomId);
                publish(u"room_closed"_s, {{u"roomId"_s, e.roomId}, {u"reason"_s, e.reason}});
            },
            [this](const events::MemberJoined &e) {
                const Room *room = m_rooms.find(e.roomId);
                const Member *m = room ? room->member(e.connectionId) : nullptr;
                QJsonObject participant;
                if (room && m) {
                    const adminapi::RoomInfo info = m_admin.roomInfo(*room, true);
                    for (const adminapi::ParticipantInfo &p : info.participants) {
                        if (p.connectionId == e.connectionId)
                            participant = p.toJson();
                    }
                }
                publish(u"participant_joined"_s, {{u"roomId"_s, e.roomId},
                                                  {u"participant"_s, participant},
                                                  {u"resumed"_s, e.resumed},
                                                  {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::MemberLeft &e) {
                publish(u"participant_left"_s, {{u"roomId"_s, e.roomId},
                                                {u"connectionId"_s, e.connectionId},
                                                {u"userId"_s, e.userId},
                                                {u"reason"_s, e.reason},
                                                {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::MemberAway &e) {
                publish(u"participant_away"_s, {{u"roomId"_s, e.roomId},
                                                {u"connectionId"_s, e.connectionId},
                                                {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::GuestWaiting &e) {
                // The guest as /stats shows it (name, since when it waits).
                QJsonObject guest;
                if (const Room *room = m_rooms.find(e.roomId)) {
                    for (const adminapi::ParticipantInfo &g : m_admin.roomInfo(*room, true).waiting) {
                        if (g.connectionId == e.connectionId)
                            guest = g.toJson();
                    }
                }
                publish(u"participant_waiting"_s, {{u"roomId"_s, e.roomId},
                                                   {u"connectionId"_s, e.connectionId},
                                                   {u"userId"_s, e.userId},
                                                   {u"participant"_s, guest},
                                                   {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::AdmissionDecided &e) {
                publish(u"admission"_s, {{u"roomId"_s, e.roomId},
                                         {u"connectionId"_s, e.connectionId},
                                         {u"userId"_s, e.userId},
                                         {u"decision"_s, e.decision},
                                         {u"by"_s, e.by.userId},
                                         {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::JoinRefused &e) {
                publish(u"join_refused"_s, {{u"roomId"_s, e.roomId},
                                            {u"connectionId"_s, e.connectionId},
                                            {u"userId"_s, e.userId},
                                            {u"code"_s, e.code}});
            },
            [this](const events::SettingsChanged &e) {
                publish(u"room_settings"_s, {{u"roomId"_s, e.roomId},
                                             {u"waitingRoom"_s, onOff(e.waitingRoom)},
                                             {u"locked"_s, onOff(e.locked)},
                                             {u"by"_s, e.by.userId},
                                             {u"room"_s, roomSummary(e.roomId)}});
            },
            [this](const events::ConsultationEnded &e) {
                publish(u"consultation_ended"_s, {{u"roomId"_s, e.roomId},
                                                  {u"reason"_s, e.reason},
                                                  {u"by"_s, e.by.userId.isEmpty() ? e.by.connectionId : e.by.userId},
                                                  {u"historyDeleted"_s, e.historyDeleted}});
            },
        },
        event);
}

void AdminStream::tick()
{
    m_subscribers.removeAll(nullptr);
    const QString status = m_admin.state().status;
    const bool changed = !m_lastStatus.isEmpty() && status != m_lastStatus;
    m_lastStatus = status;
    if (m_subscribers.isEmpty() && !changed)
        return;
    if (changed)
        publish(u"server"_s, {{u"status"_s, status}});
    publishActivity();
    publishElsewhere();
    publish(u"counters"_s, counters());
}

} // namespace medrelay::server
