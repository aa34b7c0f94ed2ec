#pragma once
// The states of the console's link to a server, whichever way the data
// arrives (polled over HTTP today, an event stream later), and their names.

#include <QCoreApplication>
#include <QObject>
#include <QString>

namespace medrelay::console {

class Connection final
{
    Q_GADGET
    Q_DECLARE_TR_FUNCTIONS(Connection)

public:
    enum class State {
        Disconnected, // not started, or stopped by the user
        Connecting,   // first contact not yet answered
        Connected,
        Draining,     // server answers but is shutting down (health "draining", HTTP 503)
        Unauthorised, // the admin token was refused or is missing (HTTP 401/403); polling stops
        Unreachable,  // no answer, or not a medrelay server; retried with backoff
    };
    Q_ENUM(State)

    [[nodiscard]] static QString stateName(State state);
    // Figures arrive in these states.
    [[nodiscard]] static constexpr bool isLive(State state)
    {
        return state == State::Connected || state == State::Draining;
    }
};

using ConnectionState = Connection::State;

} // namespace medrelay::console
