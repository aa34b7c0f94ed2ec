#pragma once
// One check a message must pass before its handler runs. The MessageHandler
// asks its gates in order (authentication first, then room grants); the
// first refusal is sent back and the message goes no further.

#include "protocol/Messages.h"

#include <optional>

namespace medrelay::server {

class Connection;

class Gate
{
public:
    virtual ~Gate() = default;
    [[nodiscard]] virtual std::optional<protocol::ProtocolError> check(Connection &connection,
                                                                     const protocol::Envelope &envelope) = 0;

protected:
    Gate() = default;
    Q_DISABLE_COPY_MOVE(Gate)
};

} // namespace medrelay::server
