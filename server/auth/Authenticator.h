#pragma once
// Client authentication: verifies the JWT a connection presents (in the
// access_token query parameter of /ws, or in an `auth` message sent first),
// sets the connection's identity from it, lets nothing but `auth` through
// before that, refreshes it on a new `auth`, and closes the connection when
// its token expires. With no key configured (development only) it does
// nothing and identities come from the first join, as in the original.

#include "messaging/Gate.h"
#include "messaging/MessageHandler.h"
#include "security/TokenVerifier.h"

#include <QObject>

#include <memory>

namespace medrelay::server {

class EventLog;
struct ServerConfig;

class Authenticator final : public QObject, public Gate
{
    Q_OBJECT
public:
    Authenticator(const ServerConfig &config, Metrics &metrics, EventLog &events, QObject *parent = nullptr);
    ~Authenticator() override;
    Q_DISABLE_COPY_MOVE(Authenticator)

    // Loads the key; returns an error text, or empty.
    [[nodiscard]] QString initialise();
    [[nodiscard]] bool enabled() const { return m_verifier != nullptr; }

    void registerWith(MessageHandler &handler);
    // The gate: nothing but `auth` before a verified token.
    std::optional<protocol::ProtocolError> check(Connection &connection, const protocol::Envelope &envelope) override;

public Q_SLOTS:
    void onConnectionOpened(medrelay::server::Connection *connection);

Q_SIGNALS:
    void authenticated(medrelay::server::Connection *connection);
    // A new token replaced the connection's identity (same user; its grants
    // or role may differ).
    void identityChanged(medrelay::server::Connection *connection);
    void authenticationFailed(medrelay::server::Connection *connection, const QString &reason);

private:
    void handleAuth(Connection &c, const QJsonValue &requestId, const protocol::AuthMessage &m);
    bool accept(Connection &c, const QByteArray &token, const QJsonValue &requestId, bool fromMessage);
    void fail(Connection &c, const QString &reason, const QJsonValue &requestId);
    void scheduleExpiry(Connection &c, const QDateTime &expiresAt);

    const ServerConfig &m_config;
    Metrics &m_metrics;
    EventLog &m_events;
    std::unique_ptr<const security::TokenVerifier> m_verifier;
};

} // namespace medrelay::server
