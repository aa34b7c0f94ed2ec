#include "realtime/EpollClientSocket.h"

#include "transport/WebSocketConnection.h"

namespace medrelay::server {

EpollClientSocket::EpollClientSocket(transport::WebSocketConnection *connection, RequestTarget target, QObject *parent)
    : ClientSocket(parent)
    , m_connection(connection)
    , m_target(std::move(target))
{
    connection->setParent(this);
    connection->setObserver(this);
}

EpollClientSocket::~EpollClientSocket()
{
    if (m_connection)
        m_connection->setObserver(nullptr);
}

void EpollClientSocket::sendText(const OutboundMessage &message)
{
    if (m_connection)
        m_connection->sendFrame(message.wsFrame());
}

qint64 EpollClientSocket::bytesQueued() const
{
    return m_connection ? m_connection->bytesQueued() : 0;
}

void EpollClientSocket::ping(const QByteArray &payload)
{
    if (m_connection)
        m_connection->ping(payload);
}

void EpollClientSocket::close(int code, const QString &reason)
{
    if (m_connection)
        m_connection->close(static_cast<quint16>(code), reason);
}

void EpollClientSocket::abort()
{
    if (m_connection)
        m_connection->abort();
}

QHostAddress EpollClientSocket::peerAddress() const
{
    return m_connection ? m_connection->peerAddress() : QHostAddress();
}

int EpollClientSocket::closeCode() const
{
    return m_connection ? m_connection->closeCode() : 0;
}

} // namespace medrelay::server
