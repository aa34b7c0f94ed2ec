#pragma once
// All rooms of this instance: creates a room on first join, removes it when
// its last member leaves, when an admin closes it, or when the idle sweep
// finds it inactive. Tracks which rooms each connection is in.

#include "rooms/Room.h"

#include <QHash>
#include <QObject>
#include <QSet>

#include <memory>

namespace medrelay::server {

class RoomRegistry final : public QObject
{
    Q_OBJECT
public:
    enum class JoinResult { Joined, AlreadyMember, AppointmentMismatch, RoomFull, TooManyRooms };

    explicit RoomRegistry(int maxParticipantsPerRoom, int maxRoomsPerConnection, QObject *parent = nullptr);
    ~RoomRegistry() override;
    Q_DISABLE_COPY_MOVE(RoomRegistry)

    [[nodiscard]] Room *find(const QString &roomId) const;
    [[nodiscard]] qsizetype count() const { return m_rooms.size(); }
    [[nodiscard]] QList<const Room *> rooms() const;
    [[nodiscard]] QList<Room *> roomsOf(const QString &connectionId) const;

    JoinResult join(Peer *peer, const QString &roomId, qint64 appointmentId, const QDateTime &now);
    // Removes the member; removes the room when it becomes empty.
    bool leave(const QString &connectionId, const QString &roomId);
    // Removes a whole room (admin close, idle sweep); returns its members.
    QList<Peer *> remove(const QString &roomId, const QString &reason);
    // Rooms whose last activity is older than `cutoff`.
    [[nodiscard]] QStringList idleSince(const QDateTime &cutoff) const;

Q_SIGNALS:
    void roomCreated(const QString &roomId, qint64 appointmentId);
    void roomRemoved(const QString &roomId, const QString &reason);

private:
    int m_maxParticipants = 64;
    int m_maxRoomsPerConnection = 16;
    QHash<QString, std::shared_ptr<Room>> m_rooms;
    QHash<QString, QSet<QString>> m_roomsByConnection;
};

} // namespace medrelay::server
