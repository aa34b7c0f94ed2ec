#pragma once
// What a room needs of a member: its id, its identity and a way to send it
// bytes. Rooms hold Peers, not sockets, so fan-out does not depend on the
// transport (and a remote member on another instance can be a Peer too).

#include "model/Identity.h"
#include "model/OutboundMessage.h"

#include <QDateTime>
#include <QString>

namespace medrelay::server {

class Peer
{
public:
    virtual ~Peer() = default;
    [[nodiscard]] virtual const QString &connectionId() const = 0;
    [[nodiscard]] virtual const Identity &identity() const = 0;
    [[nodiscard]] virtual QString remoteAddress() const = 0;
    virtual void send(const OutboundMessage &message) = 0;

protected:
    Peer() = default;
    Peer(const Peer &) = default;
    Peer &operator=(const Peer &) = default;
};

} // namespace medrelay::server
