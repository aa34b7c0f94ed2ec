#pragma once
// Something a joiner receives from someone other than the room: per
// connection, not room state (for example its own TURN credentials). The
// RoomService calls it right after it sent a member its room_state, before
// any replay, admission request or held live message, so the client has it
// before the first offer can reach it. It must not change rooms.

#include <QString>

namespace medrelay::server {

class Peer;

class JoinCompanion
{
public:
    virtual ~JoinCompanion() = default;
    virtual void roomStateSent(Peer &peer, const QString &roomId) = 0;

protected:
    JoinCompanion() = default;
    Q_DISABLE_COPY_MOVE(JoinCompanion)
};

} // namespace medrelay::server
