#include "consultation/Room.h"

#include <algorithm>

namespace medrelay::server {

Room::Room(QString id, qint64 appointmentId, qint64 nowMs, bool waitingRoom)
    : m_id(std::move(id))
    , m_appointmentId(appointmentId)
    , m_createdAtMs(nowMs)
    , m_lastActivityMs(nowMs)
    , m_waitingRoom(waitingRoom)
{
    // Most consultations are two people: room for exactly two, where the
    // list's own growth would allocate room for four on the second join.
    m_members.reserve(2);
}

bool Room::hostPresent() const
{
    for (const Member &m : m_members) {
        if (m.host && m.state != MemberState::Away)
            return true;
    }
    return false;
}

bool Room::hasLocal() const
{
    for (const Member &m : m_members) {
        if (m.isLocal())
            return true;
    }
    for (const WaitingGuest &g : m_waiting) {
        if (g.isLocal())
            return true;
    }
    return false;
}

bool Room::hasRemoteRecipients() const
{
    for (const Member &m : m_members) {
        if (!m.isLocal() && m.state != MemberState::Away)
            return true;
    }
    return false;
}

bool Room::allMembersLocal() const
{
    return std::all_of(m_members.cbegin(), m_members.cend(), [](const Member &m) { return m.isLocal(); });
}

const Member *Room::member(const QString &connectionId) const
{
    for (const Member &m : m_members) {
        if (m.connectionId == connectionId)
            return &m;
    }
    return nullptr;
}

Member *Room::member(const QString &connectionId)
{
    for (Member &m : m_members) {
        if (m.connectionId == connectionId)
            return &m;
    }
    return nullptr;
}

Member *Room::awayMemberOf(const QString &userId)
{
    for (Member &m : m_members) {
        if (m.state == MemberState::Away && m.identity.userId == userId)
            return &m;
    }
    return nullptr;
}

const WaitingGuest *Room::waitingGuest(const QString &connectionId) const
{
    for (const WaitingGuest &g : m_waiting) {
        if (g.connectionId == connectionId)
            return &g;
    }
    return nullptr;
}

QList<Member *> Room::recipients(const QString &senderConnectionId, const std::optional<QString> &to)
{
    QList<Member *> out;
    if (to) {
        for (Member &m : m_members) {
            if (m.connectionId != *to)
                continue;
            // Addressed to this connection alone, even while it is away.
            if (m.connectionId != senderConnectionId && m.state != MemberState::Away)
                out.append(&m);
            return out;
        }
    }
    out.reserve(m_members.size());
    for (Member &m : m_members) {
        if (m.connectionId == senderConnectionId || m.state == MemberState::Away)
            continue;
        if (to && m.identity.userId != *to)
            continue;
        out.append(&m);
    }
    return out;
}

} // namespace medrelay::server
