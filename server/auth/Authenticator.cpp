#include "auth/Authenticator.h"

#include "config/ServerConfig.h"
#include "events/EventLog.h"

#include <QLoggingCategory>
#include <QTimer>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcAuth, "medrelay.auth")

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;

namespace {

constexpr char kDeadlineTimer[] = "medrelay.authDeadline";
constexpr char kExpiryTimer[] = "medrelay.authExpiry";

Identity toIdentity(const security::VerifiedIdentity &v)
{
    Identity id;
    id.userId = v.userId;
    id.userName = v.name;
    id.role = v.role;
    id.verified = true;
    id.grantedRooms = v.rooms;
    id.grantedAppointments = v.appointments;
    id.expiresAt = v.expiresAt;
    return id;
}

} // namespace

Authenticator::Authenticator(const ServerConfig &config, Metrics &metrics, EventLog &events, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_metrics(metrics)
    , m_events(events)
{}

Authenticator::~Authenticator() = default;

QString Authenticator::initialise()
{
    if (!m_config.authEnabled())
        return {};
    security::TokenConfig tc;
    tc.hs256Secret = m_config.jwtSecret.toUtf8();
    tc.publicKeyFile = m_config.jwtPublicKeyFile;
    tc.issuer = m_config.jwtIssuer;
    tc.audience = m_config.jwtAudience;
    tc.leewaySeconds = m_config.jwtLeewaySeconds;
    tc.extraRoles = m_config.hostRoles;
    auto created = security::TokenVerifier::create(tc);
    if (!created.verifier)
        return created.error;
    m_verifier = std::move(created.verifier);
    return {};
}

void Authenticator::registerWith(MessageHandler &handler)
{
    handler.registerKind<protocol::AuthMessage>(MessageKind::Auth,
        [this](const Request &r, const protocol::Envelope &, const protocol::AuthMessage &m) {
            if (auto *c = r.peer() ? qobject_cast<Connection *>(r.peer()->lifetime()) : nullptr)
                handleAuth(*c, r.requestId(), m);
        });
    handler.addGate(this);
}

std::optional<protocol::ProtocolError> Authenticator::check(Connection &c, const protocol::Envelope &e)
{
    if (!enabled() || e.kind == MessageKind::Auth || c.identity().verified)
        return std::nullopt;
    return protocol::ProtocolError{ErrorCode::Unauthorized,
                                   u"authenticate first: send an auth message or connect with ?access_token="_s};
}

void Authenticator::onConnectionOpened(Connection *connection)
{
    if (!enabled())
        return;
    const QUrlQuery query(connection->requestUrl());
    const QString token = query.queryItemValue(u"access_token"_s, QUrl::FullyDecoded);
    if (!token.isEmpty()) {
        accept(*connection, token.toUtf8(), {}, false);
        return;
    }
    // No token in the URL: an auth message must come first, and soon.
    auto *deadline = new QTimer(connection);
    deadline->setObjectName(QLatin1StringView(kDeadlineTimer));
    deadline->setSingleShot(true);
    connect(deadline, &QTimer::timeout, connection, [this, connection] {
        if (!connection->identity().verified)
            fail(*connection, u"auth_timeout"_s, {});
    });
    deadline->start(m_config.requestTimeoutMs);
}

void Authenticator::handleAuth(Connection &c, const QJsonValue &requestId, const protocol::AuthMessage &m)
{
    if (!enabled()) {
        c.sendError(ErrorCode::InvalidMessage, u"authentication is not configured on this server"_s, requestId);
        return;
    }
    accept(c, m.token.toUtf8(), requestId, true);
}

bool Authenticator::accept(Connection &c, const QByteArray &token, const QJsonValue &requestId, bool fromMessage)
{
    const security::TokenResult result = m_verifier->verify(token);
    if (!result.ok()) {
        fail(c, QString(security::reasonName(result.error())), requestId);
        return false;
    }
    const Identity identity = toIdentity(result.identity());
    const bool refresh = c.identity().verified;
    if (!c.refreshIdentity(identity)) {
        // A token for someone else on an authenticated connection.
        fail(c, u"identity_mismatch"_s, requestId);
        return false;
    }
    if (QTimer *deadline = c.findChild<QTimer *>(QLatin1StringView(kDeadlineTimer)))
        deadline->deleteLater();
    scheduleExpiry(c, identity.expiresAt.addSecs(m_config.jwtLeewaySeconds));
    qCInfo(lcAuth) << (refresh ? "token refreshed" : "authenticated") << c.connectionId() << "user" << identity.userId
                   << "role" << identity.role;
    if (fromMessage) {
        QJsonObject ok{{u"type"_s, QString(protocol::wireName(MessageKind::AuthOk))},
                       {u"userId"_s, protocol::userIdToJson(identity.userId)},
                       {u"role"_s, identity.role},
                       {u"connectionId"_s, c.connectionId()},
                       {u"expiresAt"_s, static_cast<double>(identity.expiresAt.toMSecsSinceEpoch())}};
        if (!requestId.isUndefined() && !requestId.isNull())
            ok.insert(u"requestId"_s, requestId);
        c.sendJson(MessageKind::AuthOk, ok);
    }
    if (!refresh)
        Q_EMIT authenticated(&c);
    else
        Q_EMIT identityChanged(&c);
    return true;
}

void Authenticator::fail(Connection &c, const QString &reason, const QJsonValue &requestId)
{
    // The reason names the check that failed, never the token.
    m_metrics.authFailure(reason);
    m_events.add(u"auth_failed"_s, {}, c.connectionId(), c.identity().userId, reason);
    qCInfo(lcAuth) << "authentication failed" << c.connectionId() << reason;
    Q_EMIT authenticationFailed(&c, reason);
    const bool expired = reason == u"expired"_s;
    c.sendError(expired ? ErrorCode::TokenExpired : ErrorCode::Unauthorized, u"authentication failed: %1"_s.arg(reason),
                requestId);
    m_metrics.rejection(Rejection::AuthFailed);
    c.closeWith(protocol::CloseCode::Unauthorized, u"authentication failed: %1"_s.arg(reason));
}

void Authenticator::scheduleExpiry(Connection &c, const QDateTime &expiresAt)
{
    QTimer *timer = c.findChild<QTimer *>(QLatin1StringView(kExpiryTimer));
    if (!timer) {
        timer = new QTimer(&c);
        timer->setObjectName(QLatin1StringView(kExpiryTimer));
        timer->setSingleShot(true);
        timer->setTimerType(Qt::CoarseTimer);
        connect(timer, &QTimer::timeout, &c, [this, conn = &c] {
            // Automatic logoff: no activity after the token's lifetime.
            m_metrics.rejection(Rejection::TokenExpired);
            m_events.add(u"token_expired"_s, {}, conn->connectionId(), conn->identity().userId);
            conn->sendError(ErrorCode::TokenExpired, u"token expired: send a fresh token in an auth message"_s);
            conn->closeWith(protocol::CloseCode::TokenExpired, u"token expired"_s);
        });
    }
    const qint64 ms = QDateTime::currentDateTimeUtc().msecsTo(expiresAt);
    timer->start(static_cast<int>(std::clamp<qint64>(ms, 0, std::numeric_limits<int>::max())));
}

} // namespace medrelay::server
