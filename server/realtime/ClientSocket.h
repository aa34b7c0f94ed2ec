#pragma once
// One client's WebSocket as the rest of the server sees it, whatever carries
// it: QtClientSocket (QWebSocket, used for TLS) or the lean epoll transport.
// Connection enforces the limits on top of it; this only moves messages.

#include "model/OutboundMessage.h"
#include "transport/WebSocketCodec.h"

#include <QHostAddress>
#include <QObject>
#include <QUrl>

namespace medrelay::server {

class ClientSocket : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    ~ClientSocket() override = default;
    Q_DISABLE_COPY_MOVE(ClientSocket)

    virtual void sendText(const OutboundMessage &message) = 0;
    // Outgoing bytes accepted but not yet written to the kernel.
    [[nodiscard]] virtual qint64 bytesQueued() const = 0;
    // Sends a ping carrying `payload` (at most 125 bytes).
    virtual void ping(const QByteArray &payload) = 0;
    // Close handshake with a WebSocket close code.
    virtual void close(int code, const QString &reason) = 0;
    // Drops the connection at once.
    virtual void abort() = 0;
    [[nodiscard]] virtual QHostAddress peerAddress() const = 0;
    [[nodiscard]] virtual QUrl requestUrl() const = 0;
    // The close code sent or received, once closing; 0 before.
    [[nodiscard]] virtual int closeCode() const = 0;

Q_SIGNALS:
    // A complete text (or binary) message.
    void messageReceived(const QByteArray &utf8);
    // A ping (which the transport answers by itself) or a pong from the peer,
    // with its payload. Transports that cannot see pings report pongs only.
    void controlReceived(medrelay::transport::Opcode opcode, const QByteArray &payload);
    // Exactly once, never from inside a call the owner made.
    void disconnected();
};

} // namespace medrelay::server
