#pragma once
// Small helpers shared by the room service's single-instance and cluster
// halves (RoomService.cpp, RoomServiceCluster.cpp): messages the server writes
// itself, and the mapping between relayed kinds and stored message classes.

#include "model/OutboundMessage.h"
#include "protocol/MessageKind.h"
#include "store/HistoryStore.h"

#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>

namespace medrelay::server::roommessages {

inline qint64 nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

inline QString kindName(protocol::MessageKind kind)
{
    return QString(protocol::wireName(kind));
}

// A server message: `fields` plus its type (and the request it answers).
inline OutboundMessage notice(protocol::MessageKind kind, QJsonObject fields, const QJsonValue &requestId = {})
{
    fields.insert(QStringLiteral("type"), kindName(kind));
    if (!requestId.isUndefined() && !requestId.isNull())
        fields.insert(QStringLiteral("requestId"), requestId);
    return OutboundMessage(kind, fields);
}

inline store::MessageClass classOf(protocol::MessageKind kind)
{
    switch (kind) {
    case protocol::MessageKind::WhiteboardUpdate:
        return store::MessageClass::Whiteboard;
    case protocol::MessageKind::WhiteboardClear:
        return store::MessageClass::WhiteboardClear;
    default:
        return store::MessageClass::Chat;
    }
}

inline protocol::MessageKind kindOf(store::MessageClass cls)
{
    switch (cls) {
    case store::MessageClass::Whiteboard:
        return protocol::MessageKind::WhiteboardUpdate;
    case store::MessageClass::WhiteboardClear:
        return protocol::MessageKind::WhiteboardClear;
    case store::MessageClass::Chat:
        break;
    }
    return protocol::MessageKind::ChatMessage;
}

} // namespace medrelay::server::roommessages
