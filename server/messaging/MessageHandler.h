#pragma once
// The message path's single entry: scans each frame once into an Envelope,
// asks each gate whether the connection may send it, validates it into the
// kind's typed value, and calls the handler registered for the kind with a
// Request the handler may finish later. Adding a kind means: its entry in the
// kind table, its typed struct, and a registerKind() call from its handler.
// Nothing here changes.

#include "messaging/Gate.h"
#include "metrics/Metrics.h"
#include "model/Request.h"
#include "protocol/Messages.h"
#include "realtime/Connection.h"

#include <QObject>

#include <array>
#include <functional>
#include <vector>

namespace medrelay::server {

class MessageHandler final : public QObject
{
    Q_OBJECT
public:
    MessageHandler(Metrics &metrics, protocol::ValidationLimits limits, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(MessageHandler)

    // fn(const Request &, const protocol::Envelope &, const Message &)
    template<typename Message, typename Fn>
    void registerKind(protocol::MessageKind kind, Fn handler)
    {
        m_handlers[static_cast<std::size_t>(kind)] = [this, handler](const Request &r, const protocol::Envelope &e) {
            auto parsed = Message::fromJson(e.kind, e.json, m_limits);
            if (!parsed.ok()) {
                r.error(parsed.error().code, parsed.error().message);
                return;
            }
            handler(r, e, parsed.value());
        };
    }

    // Gates run in the order they were added.
    void addGate(Gate *gate) { m_gates.push_back(gate); }

public Q_SLOTS:
    void handle(medrelay::server::Connection *connection, const QByteArray &utf8);

private:
    using Dispatch = std::function<void(const Request &, const protocol::Envelope &)>;
    Metrics &m_metrics;
    protocol::ValidationLimits m_limits;
    std::vector<Gate *> m_gates;
    std::array<Dispatch, protocol::kMessageKindCount> m_handlers{};
};

} // namespace medrelay::server
