#include "rooms/Room.h"

#include <algorithm>

namespace medrelay::server {

Room::Room(QString id, qint64 appointmentId, const QDateTime &now)
    : m_id(std::move(id))
    , m_appointmentId(appointmentId)
    , m_createdAt(now)
    , m_lastActivity(now)
{}

bool Room::contains(const QString &connectionId) const
{
    return std::any_of(m_members.cbegin(), m_members.cend(),
                       [&](const RoomMember &m) { return m.peer->connectionId() == connectionId; });
}

void Room::add(Peer *peer, const QDateTime &now)
{
    m_members.append(RoomMember{peer, now, now});
    m_lastActivity = now;
}

bool Room::remove(const QString &connectionId)
{
    return m_members.removeIf([&](const RoomMember &m) { return m.peer->connectionId() == connectionId; }) > 0;
}

void Room::touch(const QString &connectionId, const QDateTime &now)
{
    m_lastActivity = now;
    for (RoomMember &m : m_members) {
        if (m.peer->connectionId() == connectionId) {
            m.lastActivity = now;
            break;
        }
    }
}

QList<Peer *> Room::recipients(const Peer *sender, const std::optional<QString> &to) const
{
    QList<Peer *> out;
    out.reserve(m_members.size());
    for (const RoomMember &m : m_members) {
        if (m.peer == sender)
            continue;
        if (to && m.peer->connectionId() != *to && m.peer->identity().userId != *to)
            continue;
        out.append(m.peer);
    }
    return out;
}

} // namespace medrelay::server
