#include "messaging/GrantGate.h"

#include "realtime/Connection.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;

std::optional<protocol::ProtocolError> GrantGate::check(Connection &connection, const protocol::Envelope &envelope)
{
    if (!m_access.authEnabled() || envelope.kind == protocol::MessageKind::Auth
        || envelope.kind == protocol::MessageKind::UserJoined)
        return std::nullopt;
    const QString roomId = envelope.roomId();
    if (roomId.isEmpty() || m_access.mayEnter(connection.identity(), roomId))
        return std::nullopt;
    return protocol::ProtocolError{protocol::ErrorCode::Forbidden,
                                   u"this token does not grant room '%1'"_s.arg(roomId)};
}

} // namespace medrelay::server
