#include "core/ConnectionState.h"

namespace medrelay::console {

QString Connection::stateName(State state)
{
    switch (state) {
    case State::Disconnected: return tr("Disconnected");
    case State::Connecting: return tr("Connecting");
    case State::Connected: return tr("Connected");
    case State::Draining: return tr("Server draining");
    case State::Unauthorised: return tr("Unauthorised");
    case State::Unreachable: return tr("Unreachable");
    }
    return {};
}

} // namespace medrelay::console
