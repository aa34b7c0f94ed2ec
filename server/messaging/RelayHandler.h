#pragma once
// Room traffic: WebRTC signalling (offer, answer, ICE candidate; optionally
// to one participant), chat and whiteboard updates. Checks membership,
// stamps the server's fields, serialises once and hands it to the Fanout.

#include "messaging/MessageHandler.h"
#include "rooms/Fanout.h"
#include "rooms/RoomRegistry.h"

#include <QObject>

namespace medrelay::server {

class RelayHandler final : public QObject
{
    Q_OBJECT
public:
    RelayHandler(RoomRegistry &rooms, Fanout &fanout, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(RelayHandler)

    void registerWith(MessageHandler &handler);

private:
    void relay(Connection &c, const protocol::Envelope &e, const protocol::RoomMessage &m);

    RoomRegistry &m_rooms;
    Fanout &m_fanout;
};

} // namespace medrelay::server
