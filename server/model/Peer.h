#pragma once
// What a room needs of a member: its id, its identity and a way to send it
// bytes. Rooms hold Peers, not sockets, so fan-out does not depend on the
// transport (and a remote member on another instance can be a Peer too).

#include "model/Identity.h"
#include "model/OutboundMessage.h"
#include "protocol/ErrorCode.h"

#include <QJsonValue>
#include <QString>

QT_BEGIN_NAMESPACE
class QObject;
QT_END_NAMESPACE

namespace medrelay::server {

class Peer
{
public:
    virtual ~Peer() = default;
    [[nodiscard]] virtual const QString &connectionId() const = 0;
    [[nodiscard]] virtual const Identity &identity() const = 0;
    [[nodiscard]] virtual QString remoteAddress() const = 0;
    virtual void send(const OutboundMessage &message) = 0;
    virtual void sendError(protocol::ErrorCode code, const QString &message, const QJsonValue &requestId = {}) = 0;
    // Closes the connection with a WebSocket close code.
    virtual void close(int closeCode, const QString &reason) = 0;
    // The object whose destruction ends this peer: work that finishes later
    // holds a QPointer to it and drops its reply when the peer is gone.
    [[nodiscard]] virtual QObject *lifetime() = 0;

protected:
    Peer() = default;
    Peer(const Peer &) = default;
    Peer &operator=(const Peer &) = default;
};

} // namespace medrelay::server
