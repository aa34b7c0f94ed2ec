#pragma once
// The client messages about rooms, mapped onto the RoomService: join (after
// fixing a claimed identity when the server does not authenticate), leave,
// relay (signalling, chat, whiteboard), and the host's commands. Validation
// happened already; the room service decides.

#include "messaging/MessageHandler.h"

#include <QObject>

namespace medrelay::server {

class RoomService;

class RoomHandlers final : public QObject
{
    Q_OBJECT
public:
    explicit RoomHandlers(RoomService &rooms, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(RoomHandlers)

    void registerWith(MessageHandler &handler);

private:
    void join(const Request &request, const protocol::Envelope &envelope, const protocol::JoinRoom &message);

    RoomService &m_rooms;
};

} // namespace medrelay::server
