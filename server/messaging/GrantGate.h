#pragma once
// With authentication, a message about a room passes only when the sender's
// token grants that room (see AccessPolicy). Joins are checked by the room
// service itself, which records refused joins for the audit trail.

#include "consultation/AccessPolicy.h"
#include "messaging/Gate.h"

namespace medrelay::server {

class GrantGate final : public Gate
{
public:
    explicit GrantGate(const AccessPolicy &access) : m_access(access) {}

    std::optional<protocol::ProtocolError> check(Connection &connection, const protocol::Envelope &envelope) override;

private:
    const AccessPolicy &m_access;
};

} // namespace medrelay::server
