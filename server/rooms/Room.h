#pragma once
// One consultation room: its appointment, its members and when it was last
// active. Membership only; sending is the Fanout's job.

#include "model/Peer.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <optional>

namespace medrelay::server {

struct RoomMember
{
    Peer *peer = nullptr;
    QDateTime joinedAt;
    QDateTime lastActivity;
};

class Room final
{
public:
    Room(QString id, qint64 appointmentId, const QDateTime &now);
    Q_DISABLE_COPY_MOVE(Room)

    [[nodiscard]] const QString &id() const { return m_id; }
    [[nodiscard]] qint64 appointmentId() const { return m_appointmentId; }
    [[nodiscard]] const QDateTime &createdAt() const { return m_createdAt; }
    [[nodiscard]] const QDateTime &lastActivity() const { return m_lastActivity; }
    [[nodiscard]] const QList<RoomMember> &members() const { return m_members; }
    [[nodiscard]] qsizetype size() const { return m_members.size(); }
    [[nodiscard]] bool isEmpty() const { return m_members.isEmpty(); }

    [[nodiscard]] bool contains(const QString &connectionId) const;
    void add(Peer *peer, const QDateTime &now);
    bool remove(const QString &connectionId);
    // Marks the room and the sender as active.
    void touch(const QString &connectionId, const QDateTime &now);

    // Members a message goes to: all but the sender, or, with `to`, those
    // whose connection id or user id equals it (still never the sender).
    [[nodiscard]] QList<Peer *> recipients(const Peer *sender, const std::optional<QString> &to) const;

private:
    QString m_id;
    qint64 m_appointmentId = 0;
    QDateTime m_createdAt;
    QDateTime m_lastActivity;
    QList<RoomMember> m_members;
};

} // namespace medrelay::server
