#include "realtime/Connection.h"

#include "net/ClientAddress.h"
#include "protocol/Messages.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QtEndian>

Q_LOGGING_CATEGORY(lcConnection, "medrelay.ws")

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::CloseCode::PolicyViolation;

Connection::Connection(QString id, ClientSocket *socket, const QHostAddress &clientAddress,
                       const ConnectionLimits &limits, Metrics &metrics, Owner *owner, QObject *parent)
    : QObject(parent)
    , m_id(std::move(id))
    , m_socket(socket)
    , m_limits(limits)
    , m_metrics(metrics)
    , m_owner(owner)
    , m_address(displayAddress(clientAddress))
    , m_rate(limits.ratePerSecond, limits.rateBurst)
{
    m_clock.start();
    // No pong can match before the first ping.
    m_pingTokens[0] = m_pingTokens[1] = QRandomGenerator::global()->generate();
    socket->setParent(this);
    // Text and binary frames alike: the original server parsed both as JSON.
    socket->setReceiver(this);
}

Connection::~Connection()
{
    if (m_socket)
        m_socket->setReceiver(nullptr);
}

bool Connection::setIdentity(const Identity &identity)
{
    if (m_identity.isSet())
        return m_identity.userId == identity.userId;
    m_identity = identity;
    return true;
}

bool Connection::refreshIdentity(const Identity &identity)
{
    if (m_identity.isSet() && m_identity.userId != identity.userId)
        return false;
    m_identity = identity;
    return true;
}

void Connection::send(const OutboundMessage &message)
{
    if (m_closing || !m_socket)
        return;
    if (m_socket->bytesQueued() + message.size() > m_limits.sendQueueLimitBytes) {
        qCInfo(lcConnection) << "closing slow consumer" << m_id << "queued" << m_socket->bytesQueued();
        terminate(Rejection::SlowConsumer);
        return;
    }
    m_socket->sendText(message);
    m_metrics.messageOut(message.size());
}

void Connection::sendJson(protocol::MessageKind kind, const QJsonObject &object)
{
    send(OutboundMessage(kind, object));
}

void Connection::sendError(protocol::ErrorCode code, const QString &message, const QJsonValue &requestId)
{
    m_metrics.error(code);
    sendJson(protocol::MessageKind::Error, protocol::makeError(code, message, requestId));
}

void Connection::closeWith(int closeCode, const QString &reason)
{
    if (m_closing || !m_socket)
        return;
    m_closing = true;
    m_socket->close(closeCode, reason.left(120));
}

void Connection::terminate(Rejection reason)
{
    if (!m_socket || m_terminated)
        return;
    m_terminated = true;
    m_metrics.rejection(reason);
    m_closing = true;
    // Deferred: this may be called in the middle of a fan-out loop.
    QMetaObject::invokeMethod(this, [this] {
        if (m_socket)
            m_socket->abort();
    }, Qt::QueuedConnection);
}

void Connection::heartbeat()
{
    if (!m_socket || m_closing)
        return;
    if (m_missedPongs >= m_limits.missedPongsBeforeClose) {
        qCInfo(lcConnection) << "ping timeout" << m_id;
        terminate(Rejection::PingTimeout);
        return;
    }
    // Sends never exceed the cap, but control frames are queued by the
    // transport on its own; this catches any backlog they built up.
    if (m_socket->bytesQueued() > m_limits.sendQueueLimitBytes) {
        qCInfo(lcConnection) << "closing slow consumer" << m_id << "queued" << m_socket->bytesQueued();
        terminate(Rejection::SlowConsumer);
        return;
    }
    ++m_missedPongs;
    // Unpredictable, so only a client that read the ping can answer it.
    m_pingTokens[1] = m_pingTokens[0];
    m_pingTokens[0] = QRandomGenerator::global()->generate();
    char payload[sizeof(quint32)];
    qToBigEndian(m_pingTokens[0], payload);
    m_socket->ping(QByteArray(payload, sizeof(payload)));
}

void Connection::onControl(transport::Opcode opcode, const QByteArray &payload)
{
    if (m_closing || !admitFrame(payload.size(), false))
        return;
    if (opcode != transport::Opcode::Pong || payload.size() != sizeof(quint32))
        return;
    const quint32 token = qFromBigEndian<quint32>(payload.constData());
    // The previous ping counts too: it may have waited behind a backlog
    // while the newer one was sent.
    if (m_missedPongs > 0 && (token == m_pingTokens[0] || token == m_pingTokens[1]))
        m_missedPongs = 0;
}

bool Connection::admitFrame(qint64 bytes, bool isMessage)
{
    const qint64 now = m_clock.elapsed();
    if (m_rate.allow(now))
        return true;
    m_metrics.invalidIn(bytes);
    if (m_rate.refusedInARow() > m_limits.rateBurst) {
        qCInfo(lcConnection) << "closing flooding connection" << m_id;
        m_metrics.rejection(Rejection::RateLimited);
        closeWith(PolicyViolation, u"rate limit exceeded"_s);
        return false;
    }
    // A message gets an error (at most one a second); a control frame gets
    // nothing, since answering a flood would only feed it.
    if (isMessage && now - m_lastRateErrorMs >= 1000) {
        m_lastRateErrorMs = now;
        sendError(protocol::ErrorCode::RateLimited,
                  u"too many messages: at most %1 per second"_s.arg(m_limits.ratePerSecond));
    }
    return false;
}

QUrl Connection::requestUrl() const
{
    return m_socket ? m_socket->requestUrl() : QUrl();
}

qint64 Connection::bytesQueued() const
{
    return m_socket ? m_socket->bytesQueued() : 0;
}

void Connection::accept(const QByteArray &utf8)
{
    // Incoming messages prove the peer sends, not that it reads: only an
    // echoed ping resets the heartbeat.
    if (m_closing || !admitFrame(utf8.size(), true))
        return;
    m_lastMessageMs = m_clock.elapsed(); // for the automatic logoff
    if (m_owner)
        m_owner->connectionMessage(this, utf8);
}

void Connection::onDisconnected()
{
    if (m_socket) {
        // Closed by us with closeWith(): not resumable. Dropped by us because
        // the client stopped answering (terminate) or lost: resumable. Closed
        // by the client: only if it said it was going away.
        // A protocol violation (1002, 1007, 1008, 1009) is no network accident.
        const int code = m_socket->closeCode();
        const bool clientSaidBye = code == protocol::CloseCode::Normal || code == 1005;
        const bool violation = code == 1002 || code == 1007 || code == protocol::CloseCode::PolicyViolation
            || code == protocol::CloseCode::MessageTooBig;
        m_resumable = m_terminated || (!m_closing && !clientSaidBye && !violation);
    }
    // QtWebSockets closes with 1009 by itself on an oversized message; count
    // it so operators see why the client went away.
    if (!m_closing && m_socket && m_socket->closeCode() == protocol::CloseCode::MessageTooBig)
        m_metrics.rejection(Rejection::MessageTooLarge);
    m_closing = true;
    if (!m_closedEmitted) {
        m_closedEmitted = true;
        if (m_owner)
            m_owner->connectionEnded(this);
        Q_EMIT closed(this);
    }
    deleteLater();
}

} // namespace medrelay::server
