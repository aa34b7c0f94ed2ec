#pragma once
// The message path's single entry: parses each frame once into an Envelope,
// asks the gate whether the connection may send that kind, validates it into
// the kind's typed value, and calls the handler registered for the kind.
// Adding a kind means: its entry in the kind table, its typed struct, and a
// registerKind() call from its handler. Nothing here changes.

#include "metrics/Metrics.h"
#include "protocol/Messages.h"
#include "realtime/Connection.h"

#include <QObject>

#include <array>
#include <functional>

namespace medrelay::server {

class MessageHandler final : public QObject
{
    Q_OBJECT
public:
    explicit MessageHandler(Metrics &metrics, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(MessageHandler)

    template<typename Message, typename Fn>
    void registerKind(protocol::MessageKind kind, Fn handler)
    {
        m_handlers[static_cast<std::size_t>(kind)] = [handler](Connection &c, const protocol::Envelope &e) {
            auto parsed = Message::fromJson(e.kind, e.body);
            if (!parsed.ok()) {
                c.sendError(parsed.error().code, parsed.error().message, e.requestId);
                return;
            }
            handler(c, e, parsed.value());
        };
    }

    // Decides, before validation, whether a connection may send a kind at all
    // (for example: nothing but `auth` before authenticating). Returns an
    // error to refuse.
    using Gate = std::function<std::optional<protocol::ProtocolError>(Connection &, const protocol::Envelope &)>;
    void setGate(Gate gate) { m_gate = std::move(gate); }

public Q_SLOTS:
    void handle(medrelay::server::Connection *connection, const QByteArray &utf8);

private:
    using Dispatch = std::function<void(Connection &, const protocol::Envelope &)>;
    Metrics &m_metrics;
    Gate m_gate;
    std::array<Dispatch, protocol::kMessageKindCount> m_handlers{};
};

} // namespace medrelay::server
