#pragma once
// ClientSocket over the lean epoll transport (ws:// and wss://): our own RFC
// 6455 framing on a raw socket, about 1 KB per idle connection (plus
// OpenSSL's session for TLS), and fan-out that writes the same pre-encoded
// frame to every recipient. It observes its connection directly rather than
// through signals.

#include "realtime/ClientSocket.h"
#include "transport/WebSocketConnection.h"

#include <QPointer>

namespace medrelay::server {

class EpollClientSocket final : public ClientSocket, private transport::WebSocketConnection::Observer
{
    Q_OBJECT
public:
    // Takes ownership of the connection.
    EpollClientSocket(transport::WebSocketConnection *connection, RequestTarget target, QObject *parent = nullptr);
    ~EpollClientSocket() override;
    Q_DISABLE_COPY_MOVE(EpollClientSocket)

    void sendText(const OutboundMessage &message) override;
    [[nodiscard]] qint64 bytesQueued() const override;
    void ping(const QByteArray &payload) override;
    void close(int code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override;
    [[nodiscard]] QUrl requestUrl() const override { return m_target.url(); }
    [[nodiscard]] int closeCode() const override;

private:
    void textReceived(const QByteArray &utf8) override { deliverMessage(utf8); }
    void binaryReceived(const QByteArray &data) override { deliverMessage(data); }
    void controlReceived(transport::Opcode opcode, const QByteArray &payload) override
    {
        deliverControl(opcode, payload);
    }
    void disconnected() override { deliverDisconnected(); }

    QPointer<transport::WebSocketConnection> m_connection;
    RequestTarget m_target;
};

} // namespace medrelay::server
