#include "realtime/QtClientSocket.h"

#include <QWebSocket>

namespace medrelay::server {

QtClientSocket::QtClientSocket(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent)
    : ClientSocket(parent)
    , m_socket(socket)
{
    socket->setParent(this);
    // QWebSocket accepts ~2 GiB by default; beyond these it closes with 1009.
    socket->setMaxAllowedIncomingMessageSize(static_cast<quint64>(maxMessageBytes));
    socket->setMaxAllowedIncomingFrameSize(static_cast<quint64>(maxMessageBytes));
    connect(socket, &QWebSocket::textMessageReceived, this,
            [this](const QString &text) { deliverMessage(text.toUtf8()); });
    connect(socket, &QWebSocket::binaryMessageReceived, this,
            [this](const QByteArray &data) { deliverMessage(data); });
    // QWebSocket answers pings by itself and does not report them.
    connect(socket, &QWebSocket::pong, this, [this](quint64, const QByteArray &payload) {
        deliverControl(transport::Opcode::Pong, payload);
    });
    // QWebSocket reports 1000 when the connection ended without any close
    // frame; a socket error before the end tells a lost connection apart.
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this] { m_lost = true; });
    connect(socket, &QWebSocket::disconnected, this, [this] {
        if (m_closeCode == 0 && m_socket)
            m_closeCode = m_lost ? 1006 : m_socket->closeCode();
        deliverDisconnected();
    }, Qt::QueuedConnection);
}

QtClientSocket::~QtClientSocket() = default;

void QtClientSocket::sendText(const OutboundMessage &message)
{
    if (m_socket)
        m_socket->sendTextMessage(message.text());
}

qint64 QtClientSocket::bytesQueued() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

void QtClientSocket::ping(const QByteArray &payload)
{
    if (m_socket)
        m_socket->ping(payload);
}

void QtClientSocket::close(int code, const QString &reason)
{
    if (!m_socket)
        return;
    m_closeCode = code;
    m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), reason);
}

void QtClientSocket::abort()
{
    if (m_socket)
        m_socket->abort();
}

QHostAddress QtClientSocket::peerAddress() const
{
    return m_socket ? m_socket->peerAddress() : QHostAddress();
}

QUrl QtClientSocket::requestUrl() const
{
    return m_socket ? m_socket->requestUrl() : QUrl();
}

int QtClientSocket::closeCode() const
{
    return m_closeCode;
}

} // namespace medrelay::server
