#pragma once
// Joining and leaving rooms: telemedicine_user_joined and
// telemedicine_user_left, leaving every room when a connection closes, and
// closing whole rooms (admin action, idle sweep) with room_closed.

#include "events/EventLog.h"
#include "messaging/MessageHandler.h"
#include "rooms/Fanout.h"
#include "rooms/RoomRegistry.h"

#include <QObject>

namespace medrelay::server {

class MembershipHandler final : public QObject
{
    Q_OBJECT
public:
    MembershipHandler(RoomRegistry &rooms, Fanout &fanout, EventLog &events, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(MembershipHandler)

    void registerWith(MessageHandler &handler);

    // Members get room_closed {roomId, reason} and are removed. Returns the
    // members' connection ids, or std::nullopt when there is no such room.
    std::optional<QStringList> closeRoom(const QString &roomId, const QString &reason);

    struct Closed
    {
        QStringList rooms;       // sorted
        QStringList connections; // their members
    };
    // Closes every room with no activity since `cutoff` (idle sweep, admin).
    Closed closeRoomsIdleSince(const QDateTime &cutoff, const QString &reason);

public Q_SLOTS:
    void onConnectionClosed(medrelay::server::Connection *connection);

private:
    void join(Connection &c, const protocol::Envelope &e, const protocol::JoinRoom &m);
    void leave(Connection &c, const protocol::Envelope &e, const protocol::LeaveRoom &m);
    void announceLeave(Room &room, const Peer &leaver, const QJsonObject &base, const QString &reason);

    RoomRegistry &m_rooms;
    Fanout &m_fanout;
    EventLog &m_events;
};

} // namespace medrelay::server
