#pragma once
// ClientSocket over QWebSocket (--transport qt), with QSslSocket doing the
// encryption for TLS.

#include "realtime/ClientSocket.h"

#include <QPointer>

QT_BEGIN_NAMESPACE
class QWebSocket;
QT_END_NAMESPACE

namespace medrelay::server {

class QtClientSocket final : public ClientSocket
{
    Q_OBJECT
public:
    QtClientSocket(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent = nullptr);
    ~QtClientSocket() override;
    Q_DISABLE_COPY_MOVE(QtClientSocket)

    void sendText(const OutboundMessage &message) override;
    [[nodiscard]] qint64 bytesQueued() const override;
    void ping(const QByteArray &payload) override;
    void close(int code, const QString &reason) override;
    void abort() override;
    [[nodiscard]] QHostAddress peerAddress() const override;
    [[nodiscard]] QUrl requestUrl() const override;
    [[nodiscard]] int closeCode() const override;

private:
    QPointer<QWebSocket> m_socket;
    int m_closeCode = 0;
    bool m_lost = false; // the connection failed before it was closed
};

} // namespace medrelay::server
