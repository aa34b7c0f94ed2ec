#pragma once
// One client's WebSocket as the rest of the server sees it, whatever carries
// it: the lean epoll transport (EpollClientSocket, or ThreadedClientSocket
// with I/O threads), or QWebSocket (QtClientSocket, --transport qt).
// Connection enforces the limits on top of it; this only moves messages.

#include "model/OutboundMessage.h"
#include "transport/WebSocketCodec.h"

#include <QHostAddress>
#include <QObject>
#include <QUrl>
#include <QUrlQuery>

namespace medrelay::server {

// Where a client's upgrade request went (path and query), kept as two
// strings rather than a QUrl, which costs about 200 bytes per client for
// something read once or twice; the usual path is one shared string.
class RequestTarget
{
public:
    RequestTarget() = default;
    RequestTarget(const QString &path, QUrlQuery query);
    [[nodiscard]] QUrl url() const;

private:
    QString m_path;
    QUrlQuery m_query; // holds nothing when empty
};

class ClientSocket : public QObject
{
    Q_OBJECT
public:
    // Who gets what arrives: direct calls, no signal connections (each
    // would cost memory per connection) and no signal dispatch per message.
    class Receiver
    {
    public:
        // A complete text (or binary) message.
        virtual void receivedMessage(const QByteArray &utf8) = 0;
        // A ping (which the transport answers by itself) or a pong from the
        // peer, with its payload. Transports that cannot see pings report
        // pongs only.
        virtual void receivedControl(transport::Opcode opcode, const QByteArray &payload) = 0;
        // Exactly once, never from inside a call the receiver made.
        virtual void socketDisconnected() = 0;

    protected:
        Receiver() = default;
        ~Receiver() = default;
        Q_DISABLE_COPY_MOVE(Receiver)
    };

    using QObject::QObject;
    ~ClientSocket() override = default;
    Q_DISABLE_COPY_MOVE(ClientSocket)

    // At most one; null to stop.
    void setReceiver(Receiver *receiver) { m_receiver = receiver; }

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

protected:
    // For the transports: hand on what arrived.
    void deliverMessage(const QByteArray &utf8)
    {
        if (m_receiver != nullptr)
            m_receiver->receivedMessage(utf8);
    }
    void deliverControl(transport::Opcode opcode, const QByteArray &payload)
    {
        if (m_receiver != nullptr)
            m_receiver->receivedControl(opcode, payload);
    }
    void deliverDisconnected()
    {
        if (m_receiver != nullptr)
            m_receiver->socketDisconnected();
    }

private:
    Receiver *m_receiver = nullptr;
};

} // namespace medrelay::server
