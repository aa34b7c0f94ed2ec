#pragma once
// One client's WebSocket: enforces the per-connection limits (message size,
// rate, queued outgoing bytes, heartbeat) and hands each message to its
// owner (the ConnectionManager, whose messageReceived signal the
// MessageHandler takes). It does not interpret messages.

#include "metrics/Metrics.h"
#include "model/Peer.h"
#include "protocol/ErrorCode.h"
#include "realtime/ClientSocket.h"
#include "realtime/RateLimiter.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QUrl>

namespace medrelay::server {

struct ConnectionLimits
{
    qint64 maxMessageBytes = 64 * 1024;
    qint64 sendQueueLimitBytes = 1024 * 1024;
    double ratePerSecond = 100;
    int rateBurst = 200;
    int missedPongsBeforeClose = 2;
};

class Connection final : public QObject, public Peer, private ClientSocket::Receiver
{
    Q_OBJECT
public:
    // Who is told of every message and of the close as a direct call (the
    // ConnectionManager, which passes them on as its own signals): a signal
    // connection per client each would cost memory per client.
    class Owner
    {
    public:
        virtual void connectionMessage(Connection *connection, const QByteArray &utf8) = 0;
        virtual void connectionEnded(Connection *connection) = 0;

    protected:
        Owner() = default;
        ~Owner() = default;
        Q_DISABLE_COPY_MOVE(Owner)
    };

    // Takes ownership of the socket. `owner` (may be null) must outlive it.
    Connection(QString id, ClientSocket *socket, const QHostAddress &clientAddress, const ConnectionLimits &limits,
               Metrics &metrics, Owner *owner, QObject *parent = nullptr);
    ~Connection() override;
    Q_DISABLE_COPY_MOVE(Connection)

    // Peer
    [[nodiscard]] const QString &connectionId() const override { return m_id; }
    [[nodiscard]] const Identity &identity() const override { return m_identity; }
    [[nodiscard]] QString remoteAddress() const override { return m_address; }
    void send(const OutboundMessage &message) override;
    void sendError(protocol::ErrorCode code, const QString &message, const QJsonValue &requestId = {}) override;
    void close(int closeCode, const QString &reason) override { closeWith(closeCode, reason); }
    QObject *lifetime() override { return this; }

    // Sets the identity once; later calls with another user id fail.
    bool setIdentity(const Identity &identity);
    // Replaces a verified identity after a token refresh (same user only).
    bool refreshIdentity(const Identity &identity);

    void sendJson(protocol::MessageKind kind, const QJsonObject &object);

    // Closes with a WebSocket close code; counted under `reason` when given.
    void closeWith(int closeCode, const QString &reason);
    // Drops the socket at once (for clients that no longer read).
    void terminate(Rejection reason);
    [[nodiscard]] bool isClosing() const { return m_closing; }
    // Whether the client may come back and take its place over (resume):
    // true when the connection was lost (network, ping timeout, slow
    // reader); false when the client closed it itself (close code 1000 or
    // none) or the server closed it (kicked, token expired, shutting down).
    [[nodiscard]] bool resumable() const { return m_resumable; }

    // Called by the manager every ping interval: pings, or closes the
    // connection after too many unanswered pings. Only a pong that echoes
    // one of our last pings counts, so a client that never reads (and so
    // never sees them) cannot keep itself alive with pongs of its own; a
    // backlog over the send-queue cap (control frames count too) closes it.
    void heartbeat();

    // Time since the client last sent a message (pings and pongs do not count).
    [[nodiscard]] qint64 idleMs() const { return m_clock.elapsed() - m_lastMessageMs; }
    [[nodiscard]] QUrl requestUrl() const;
    [[nodiscard]] qint64 bytesQueued() const;

Q_SIGNALS:
    // After the owner's connectionEnded(), for anyone else who holds it.
    void closed(medrelay::server::Connection *connection);

private:
    // ClientSocket::Receiver
    void receivedMessage(const QByteArray &utf8) override { accept(utf8); }
    void receivedControl(transport::Opcode opcode, const QByteArray &payload) override { onControl(opcode, payload); }
    void socketDisconnected() override { onDisconnected(); }

    void accept(const QByteArray &utf8);
    void onControl(transport::Opcode opcode, const QByteArray &payload);
    // Spends one token of the per-connection rate for a frame of either
    // kind; false when refused. Closes the connection (1008) once more than
    // a burst were refused in a row.
    bool admitFrame(qint64 bytes, bool isMessage);
    void onDisconnected();

    QString m_id;
    QPointer<ClientSocket> m_socket;
    ConnectionLimits m_limits;
    Metrics &m_metrics;
    Owner *m_owner = nullptr;
    Identity m_identity;
    QString m_address;
    RateLimiter m_rate;
    QElapsedTimer m_clock;
    int m_missedPongs = 0;
    qint64 m_lastMessageMs = 0;
    quint32 m_pingTokens[2] = {}; // payloads of the last two pings, newest first
    qint64 m_lastRateErrorMs = -1000000;
    bool m_closing = false;
    bool m_terminated = false;
    bool m_closedEmitted = false;
    bool m_resumable = false;
};

} // namespace medrelay::server
