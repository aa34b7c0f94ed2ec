#pragma once
// The context a message handler gets for one client request. It can be kept
// and finished later (after a store write, or a round trip to another
// instance) without blocking anything else: it holds a guarded pointer to
// the sender, so a reply to a connection that closed meanwhile is dropped.

#include "model/Peer.h"
#include "protocol/MessageKind.h"

#include <QJsonObject>
#include <QPointer>

namespace medrelay::server {

class Request final
{
public:
    Request() = default;
    Request(Peer &peer, protocol::MessageKind kind, QJsonValue requestId)
        : m_peer(&peer)
        , m_guard(peer.lifetime())
        , m_kind(kind)
        , m_requestId(std::move(requestId))
    {}

    // The sender, or null once its connection is gone.
    [[nodiscard]] Peer *peer() const { return m_guard ? m_peer : nullptr; }
    [[nodiscard]] bool alive() const { return !m_guard.isNull(); }
    [[nodiscard]] protocol::MessageKind kind() const { return m_kind; }
    [[nodiscard]] const QJsonValue &requestId() const { return m_requestId; }
    [[nodiscard]] bool hasRequestId() const { return !m_requestId.isUndefined() && !m_requestId.isNull(); }

    void error(protocol::ErrorCode code, const QString &message) const
    {
        if (Peer *p = peer())
            p->sendError(code, message, m_requestId);
    }
    void send(const OutboundMessage &message) const
    {
        if (Peer *p = peer())
            p->send(message);
    }
    // Sends a server message, echoing the request's requestId.
    void reply(protocol::MessageKind kind, QJsonObject object) const
    {
        if (hasRequestId())
            object.insert(QStringLiteral("requestId"), m_requestId);
        send(OutboundMessage(kind, object));
    }

private:
    Peer *m_peer = nullptr;
    QPointer<QObject> m_guard;
    protocol::MessageKind m_kind = protocol::MessageKind::Error;
    QJsonValue m_requestId;
};

} // namespace medrelay::server
