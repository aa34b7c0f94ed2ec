#pragma once
// Delivers one serialised message to a room's recipients. Behind an interface
// so that a clustered deployment can add publishing to other instances
// without touching the handlers that decide what to send.

#include "model/OutboundMessage.h"
#include "model/Peer.h"

#include <QList>

namespace medrelay::server {

class Room;

class Fanout
{
public:
    virtual ~Fanout() = default;
    // Returns how many local recipients it was handed to.
    virtual int deliver(const Room &room, const QList<Peer *> &recipients, const OutboundMessage &message) = 0;

protected:
    Fanout() = default;
};

// Sends to the recipients on this instance.
class LocalFanout final : public Fanout
{
public:
    int deliver(const Room &room, const QList<Peer *> &recipients, const OutboundMessage &message) override;
};

} // namespace medrelay::server
