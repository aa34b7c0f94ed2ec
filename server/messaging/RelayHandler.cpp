#include "messaging/RelayHandler.h"

#include "messaging/ServerFields.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;

RelayHandler::RelayHandler(RoomRegistry &rooms, Fanout &fanout, QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
    , m_fanout(fanout)
{}

void RelayHandler::registerWith(MessageHandler &handler)
{
    const auto relayFn = [this](Connection &c, const protocol::Envelope &e, const protocol::RoomMessage &m) {
        relay(c, e, m);
    };
    for (MessageKind kind : {MessageKind::Offer, MessageKind::Answer, MessageKind::IceCandidate,
                             MessageKind::ChatMessage, MessageKind::WhiteboardUpdate})
        handler.registerKind<protocol::RoomMessage>(kind, relayFn);
}

void RelayHandler::relay(Connection &c, const protocol::Envelope &e, const protocol::RoomMessage &m)
{
    Room *room = m_rooms.find(m.roomId);
    if (!room || !room->contains(c.connectionId())) {
        c.sendError(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(m.roomId), e.requestId);
        return;
    }
    if (m.appointmentId && *m.appointmentId != room->appointmentId()) {
        c.sendError(ErrorCode::AppointmentMismatch,
                    u"room '%1' belongs to another appointment"_s.arg(m.roomId), e.requestId);
        return;
    }
    const QList<Peer *> recipients = room->recipients(&c, m.to);
    if (m.to && recipients.isEmpty()) {
        c.sendError(ErrorCode::TargetNotFound,
                    u"no participant '%1' in room '%2'"_s.arg(*m.to, m.roomId), e.requestId);
        return;
    }
    room->touch(c.connectionId(), QDateTime::currentDateTimeUtc());
    if (recipients.isEmpty())
        return;

    QJsonObject message = e.body;
    stampServerFields(message, c);
    m_fanout.deliver(*room, recipients, OutboundMessage(e.kind, message));
}

} // namespace medrelay::server
