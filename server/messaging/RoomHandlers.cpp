#include "messaging/RoomHandlers.h"

#include "consultation/RoomService.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;

namespace {

// The server's connection ids: "c" and 13 base-36 digits. A claimed user id
// of that form could pose as someone's connection.
bool looksLikeConnectionId(const QString &id)
{
    if (id.size() != 14 || id.front() != u'c')
        return false;
    for (qsizetype i = 1; i < id.size(); ++i) {
        const QChar c = id[i];
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'z')))
            return false;
    }
    return true;
}

} // namespace

RoomHandlers::RoomHandlers(RoomService &rooms, QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
{}

void RoomHandlers::registerWith(MessageHandler &handler)
{
    handler.registerKind<protocol::JoinRoom>(MessageKind::UserJoined,
        [this](const Request &r, const protocol::Envelope &e, const protocol::JoinRoom &m) { join(r, e, m); });
    handler.registerKind<protocol::LeaveRoom>(MessageKind::UserLeft,
        [this](const Request &r, const protocol::Envelope &e, const protocol::LeaveRoom &m) { m_rooms.leave(r, e, m); });
    const auto relay = [this](const Request &r, const protocol::Envelope &e, const protocol::RoomMessage &m) {
        m_rooms.relay(r, e, m);
    };
    for (MessageKind kind : {MessageKind::Offer, MessageKind::Answer, MessageKind::IceCandidate,
                             MessageKind::ChatMessage, MessageKind::WhiteboardUpdate, MessageKind::WhiteboardClear})
        handler.registerKind<protocol::RoomMessage>(kind, relay);
    handler.registerKind<protocol::RoomSettings>(MessageKind::RoomSettings,
        [this](const Request &r, const protocol::Envelope &, const protocol::RoomSettings &m) {
            m_rooms.changeSettings(r, m);
        });
    handler.registerKind<protocol::ParticipantAction>(MessageKind::Admit,
        [this](const Request &r, const protocol::Envelope &, const protocol::ParticipantAction &m) { m_rooms.admit(r, m); });
    handler.registerKind<protocol::ParticipantAction>(MessageKind::Deny,
        [this](const Request &r, const protocol::Envelope &, const protocol::ParticipantAction &m) { m_rooms.deny(r, m); });
    handler.registerKind<protocol::ParticipantAction>(MessageKind::RemoveParticipant,
        [this](const Request &r, const protocol::Envelope &, const protocol::ParticipantAction &m) {
            m_rooms.removeParticipant(r, m);
        });
    handler.registerKind<protocol::EndConsultation>(MessageKind::EndConsultation,
        [this](const Request &r, const protocol::Envelope &, const protocol::EndConsultation &m) {
            m_rooms.endConsultation(r, m);
        });
}

void RoomHandlers::join(const Request &request, const protocol::Envelope &envelope, const protocol::JoinRoom &m)
{
    Peer *peer = request.peer();
    if (!peer)
        return;
    if (!peer->identity().verified) {
        // No authentication: the first join names the user, once.
        if (!m.userId) {
            request.error(ErrorCode::MissingField, u"missing required field 'userId'"_s);
            return;
        }
        if (looksLikeConnectionId(*m.userId)) {
            request.error(ErrorCode::InvalidField, u"field 'userId' must not have the form of a connection id"_s);
            return;
        }
        Identity claimed;
        claimed.userId = *m.userId;
        claimed.userName = m.userName.value_or(QString());
        claimed.role = m.role;
        auto *connection = qobject_cast<Connection *>(peer->lifetime());
        if (!connection || !connection->setIdentity(claimed)) {
            request.error(ErrorCode::IdentityMismatch, u"this connection already joined as another user"_s);
            return;
        }
    }
    m_rooms.join(request, envelope, m);
}

} // namespace medrelay::server
