#include "rooms/RoomRegistry.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;

RoomRegistry::RoomRegistry(int maxParticipantsPerRoom, int maxRoomsPerConnection, QObject *parent)
    : QObject(parent)
    , m_maxParticipants(maxParticipantsPerRoom)
    , m_maxRoomsPerConnection(maxRoomsPerConnection)
{}

RoomRegistry::~RoomRegistry() = default;

Room *RoomRegistry::find(const QString &roomId) const
{
    const auto it = m_rooms.constFind(roomId);
    return it == m_rooms.cend() ? nullptr : it->get();
}

QList<const Room *> RoomRegistry::rooms() const
{
    QList<const Room *> out;
    out.reserve(m_rooms.size());
    for (const auto &r : m_rooms)
        out.append(r.get());
    return out;
}

QList<Room *> RoomRegistry::roomsOf(const QString &connectionId) const
{
    QList<Room *> out;
    for (const QString &id : m_roomsByConnection.value(connectionId)) {
        if (Room *r = find(id))
            out.append(r);
    }
    return out;
}

RoomRegistry::JoinResult RoomRegistry::join(Peer *peer, const QString &roomId, qint64 appointmentId,
                                            const QDateTime &now)
{
    Room *room = find(roomId);
    if (room) {
        if (room->appointmentId() != appointmentId)
            return JoinResult::AppointmentMismatch;
        if (room->contains(peer->connectionId())) {
            room->touch(peer->connectionId(), now);
            return JoinResult::AlreadyMember;
        }
        if (room->size() >= m_maxParticipants)
            return JoinResult::RoomFull;
    }
    QSet<QString> &mine = m_roomsByConnection[peer->connectionId()];
    if (mine.size() >= m_maxRoomsPerConnection) {
        if (mine.isEmpty())
            m_roomsByConnection.remove(peer->connectionId());
        return JoinResult::TooManyRooms;
    }
    if (!room) {
        auto created = std::make_shared<Room>(roomId, appointmentId, now);
        room = created.get();
        m_rooms.insert(roomId, std::move(created));
        Q_EMIT roomCreated(roomId, appointmentId);
    }
    room->add(peer, now);
    mine.insert(roomId);
    return JoinResult::Joined;
}

bool RoomRegistry::leave(const QString &connectionId, const QString &roomId)
{
    Room *room = find(roomId);
    if (!room || !room->remove(connectionId))
        return false;
    auto it = m_roomsByConnection.find(connectionId);
    if (it != m_roomsByConnection.end()) {
        it->remove(roomId);
        if (it->isEmpty())
            m_roomsByConnection.erase(it);
    }
    if (room->isEmpty()) {
        m_rooms.remove(roomId);
        Q_EMIT roomRemoved(roomId, u"empty"_s);
    }
    return true;
}

QList<Peer *> RoomRegistry::remove(const QString &roomId, const QString &reason)
{
    const auto room = m_rooms.take(roomId);
    if (!room)
        return {};
    QList<Peer *> members;
    for (const RoomMember &m : room->members()) {
        members.append(m.peer);
        auto it = m_roomsByConnection.find(m.peer->connectionId());
        if (it != m_roomsByConnection.end()) {
            it->remove(roomId);
            if (it->isEmpty())
                m_roomsByConnection.erase(it);
        }
    }
    Q_EMIT roomRemoved(roomId, reason);
    return members;
}

QStringList RoomRegistry::idleSince(const QDateTime &cutoff) const
{
    QStringList out;
    for (const auto &r : m_rooms) {
        if (r->lastActivity() < cutoff)
            out.append(r->id());
    }
    return out;
}

} // namespace medrelay::server
