#include "messaging/MembershipHandler.h"

#include "messaging/ServerFields.h"

#include <QJsonArray>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcRooms, "medrelay.rooms")

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;

MembershipHandler::MembershipHandler(RoomRegistry &rooms, Fanout &fanout, EventLog &events, QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
    , m_fanout(fanout)
    , m_events(events)
{}

void MembershipHandler::registerWith(MessageHandler &handler)
{
    handler.registerKind<protocol::JoinRoom>(MessageKind::UserJoined,
        [this](Connection &c, const protocol::Envelope &e, const protocol::JoinRoom &m) { join(c, e, m); });
    handler.registerKind<protocol::LeaveRoom>(MessageKind::UserLeft,
        [this](Connection &c, const protocol::Envelope &e, const protocol::LeaveRoom &m) { leave(c, e, m); });
}

void MembershipHandler::join(Connection &c, const protocol::Envelope &e, const protocol::JoinRoom &m)
{
    const Identity &current = c.identity();
    if (current.verified) {
        // Identity came from a token: the room must be granted to it.
        if (!current.grantedRooms.contains(m.roomId) && !current.grantedAppointments.contains(m.appointmentId)) {
            m_events.add(u"join_denied"_s, m.roomId, c.connectionId(), current.userId, u"not granted"_s);
            c.sendError(ErrorCode::Forbidden, u"this token does not grant room '%1'"_s.arg(m.roomId), e.requestId);
            return;
        }
    } else {
        // No authentication: the first join names the user, once.
        if (!m.userId) {
            c.sendError(ErrorCode::MissingField, u"missing required field 'userId'"_s, e.requestId);
            return;
        }
        Identity claimed;
        claimed.userId = *m.userId;
        claimed.userName = m.userName.value_or(QString());
        claimed.role = m.role;
        if (!c.setIdentity(claimed)) {
            c.sendError(ErrorCode::IdentityMismatch,
                        u"this connection already joined as another user"_s, e.requestId);
            return;
        }
    }

    const QDateTime now = QDateTime::currentDateTimeUtc();
    const auto result = m_rooms.join(&c, m.roomId, m.appointmentId, now);
    switch (result) {
    case RoomRegistry::JoinResult::AppointmentMismatch:
        c.sendError(ErrorCode::AppointmentMismatch,
                    u"room '%1' belongs to another appointment"_s.arg(m.roomId), e.requestId);
        return;
    case RoomRegistry::JoinResult::RoomFull:
        c.sendError(ErrorCode::RoomFull, u"room '%1' is full"_s.arg(m.roomId), e.requestId);
        return;
    case RoomRegistry::JoinResult::TooManyRooms:
        c.sendError(ErrorCode::TooManyRooms, u"this connection is in too many rooms"_s, e.requestId);
        return;
    case RoomRegistry::JoinResult::AlreadyMember:
    case RoomRegistry::JoinResult::Joined:
        break;
    }
    Room *room = m_rooms.find(m.roomId);
    Q_ASSERT(room);
    if (result == RoomRegistry::JoinResult::Joined) {
        qCInfo(lcRooms) << "join" << room->id() << c.connectionId();
        m_events.add(u"join"_s, room->id(), c.connectionId(), c.identity().userId);
        // The others learn of the join; a repeated join only refreshes the
        // joiner's room_state.
        QJsonObject announce = e.body;
        stampServerFields(announce, c);
        announce.insert(u"appointmentId"_s, static_cast<double>(room->appointmentId()));
        m_fanout.deliver(*room, room->recipients(&c, std::nullopt),
                         OutboundMessage(MessageKind::UserJoined, announce));
    }

    // The joiner gets the room as it is now.

    QJsonArray participants;
    for (const RoomMember &member : room->members()) {
        const Identity &id = member.peer->identity();
        QJsonObject p{{u"connectionId"_s, member.peer->connectionId()},
                      {u"userId"_s, protocol::userIdToJson(id.userId)},
                      {u"userName"_s, id.userName},
                      {u"joinedAt"_s, static_cast<double>(member.joinedAt.toMSecsSinceEpoch())}};
        if (!id.role.isEmpty())
            p.insert(u"role"_s, id.role);
        participants.append(p);
    }
    QJsonObject state{{u"type"_s, QString(protocol::wireName(MessageKind::RoomState))},
                      {u"roomId"_s, room->id()},
                      {u"appointmentId"_s, static_cast<double>(room->appointmentId())},
                      {u"connectionId"_s, c.connectionId()},
                      {u"participants"_s, participants},
                      {u"timestamp"_s, static_cast<double>(now.toMSecsSinceEpoch())}};
    if (!e.requestId.isUndefined() && !e.requestId.isNull())
        state.insert(u"requestId"_s, e.requestId);
    c.sendJson(MessageKind::RoomState, state);
}

void MembershipHandler::leave(Connection &c, const protocol::Envelope &e, const protocol::LeaveRoom &m)
{
    Room *room = m_rooms.find(m.roomId);
    if (!room || !room->contains(c.connectionId())) {
        c.sendError(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(m.roomId), e.requestId);
        return;
    }
    announceLeave(*room, c, e.body, u"left"_s);
}

void MembershipHandler::announceLeave(Room &room, const Peer &leaver, const QJsonObject &base, const QString &reason)
{
    QJsonObject message = base;
    message.insert(u"type"_s, QString(protocol::wireName(MessageKind::UserLeft)));
    message.insert(u"roomId"_s, room.id());
    message.insert(u"appointmentId"_s, static_cast<double>(room.appointmentId()));
    message.insert(u"reason"_s, reason);
    stampServerFields(message, leaver);
    const QList<Peer *> others = room.recipients(&leaver, std::nullopt);
    if (!others.isEmpty())
        m_fanout.deliver(room, others, OutboundMessage(MessageKind::UserLeft, message));
    const QString roomId = room.id();
    qCInfo(lcRooms) << "leave" << roomId << leaver.connectionId() << reason;
    m_events.add(u"leave"_s, roomId, leaver.connectionId(), leaver.identity().userId, reason);
    m_rooms.leave(leaver.connectionId(), roomId); // may delete the room
}

MembershipHandler::Closed MembershipHandler::closeRoomsIdleSince(const QDateTime &cutoff, const QString &reason)
{
    Closed closed;
    closed.rooms = m_rooms.idleSince(cutoff);
    closed.rooms.sort();
    for (const QString &id : std::as_const(closed.rooms)) {
        if (const auto members = closeRoom(id, reason))
            closed.connections += *members;
    }
    return closed;
}

void MembershipHandler::onConnectionClosed(Connection *connection)
{
    for (Room *room : m_rooms.roomsOf(connection->connectionId()))
        announceLeave(*room, *connection, QJsonObject{}, u"disconnected"_s);
}

std::optional<QStringList> MembershipHandler::closeRoom(const QString &roomId, const QString &reason)
{
    Room *room = m_rooms.find(roomId);
    if (!room)
        return std::nullopt;
    const OutboundMessage closed(MessageKind::RoomClosed,
                                 QJsonObject{{u"type"_s, QString(protocol::wireName(MessageKind::RoomClosed))},
                                             {u"roomId"_s, roomId},
                                             {u"appointmentId"_s, static_cast<double>(room->appointmentId())},
                                             {u"reason"_s, reason},
                                             {u"timestamp"_s,
                                              static_cast<double>(QDateTime::currentMSecsSinceEpoch())}});
    const QList<Peer *> members = room->recipients(nullptr, std::nullopt);
    QStringList ids;
    for (const Peer *p : members)
        ids.append(p->connectionId());
    m_fanout.deliver(*room, members, closed);
    m_events.add(u"room_closed"_s, roomId, {}, {}, reason); // while the room still exists, for the audit
    m_rooms.remove(roomId, reason);
    qCInfo(lcRooms) << "room closed" << roomId << "members" << members.size();
    return ids;
}

} // namespace medrelay::server
