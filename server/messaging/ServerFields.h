#pragma once
// The fields the server owns in every relayed message. A relayed message keeps
// all the sender wrote except these, which are set from the connection's
// identity and the server clock, whatever the client claimed.

#include "model/Peer.h"
#include "protocol/Messages.h"

#include <QDateTime>
#include <QJsonObject>

namespace medrelay::server {

inline void stampServerFields(QJsonObject &message, const Peer &sender)
{
    using namespace Qt::StringLiterals;
    const Identity &id = sender.identity();
    message.insert(u"timestamp"_s, static_cast<double>(QDateTime::currentMSecsSinceEpoch()));
    message.insert(u"connectionId"_s, sender.connectionId());
    if (id.isSet()) {
        message.insert(u"userId"_s, protocol::userIdToJson(id.userId));
        message.insert(u"userName"_s, id.userName);
    }
    if (id.role.isEmpty())
        message.remove(u"role"_s);
    else
        message.insert(u"role"_s, id.role);
    message.insert(u"from"_s, id.userId);
    message.insert(u"fromConnectionId"_s, sender.connectionId());
}

} // namespace medrelay::server
