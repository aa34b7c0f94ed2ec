#include "TcpProxy.h"

namespace medrelay::consoletest {

using namespace Qt::StringLiterals;

TcpProxy::TcpProxy(quint16 targetPort, QObject *parent)
    : QObject(parent), m_target(targetPort)
{
    connect(&m_server, &QTcpServer::newConnection, this, [this] {
        while (QTcpSocket *client = m_server.nextPendingConnection()) {
            if (m_refusing) {
                client->abort();
                client->deleteLater();
                continue;
            }
            relay(client);
        }
    });
    m_server.listen(QHostAddress::LocalHost, 0);
}

TcpProxy::~TcpProxy()
{
    cut();
}

QUrl TcpProxy::httpUrl() const
{
    return QUrl(u"http://127.0.0.1:%1"_s.arg(m_server.serverPort()));
}

void TcpProxy::relay(QTcpSocket *client)
{
    ++m_relayed;
    client->setParent(this);
    auto *server = new QTcpSocket(this);
    m_pairs.append(Pair{client, server});
    // Bytes the client sends before the server side is up wait in its buffer.
    connect(server, &QTcpSocket::connected, this, [client, server] {
        if (client->bytesAvailable() > 0)
            server->write(client->readAll());
    });
    connect(client, &QTcpSocket::readyRead, this, [client, server] {
        if (server->state() == QAbstractSocket::ConnectedState)
            server->write(client->readAll());
    });
    connect(server, &QTcpSocket::readyRead, this, [client, server] { client->write(server->readAll()); });
    const auto close = [client, server] {
        client->disconnectFromHost();
        server->disconnectFromHost();
        client->deleteLater();
        server->deleteLater();
    };
    connect(client, &QTcpSocket::disconnected, this, close);
    connect(server, &QTcpSocket::disconnected, this, close);
    connect(server, &QTcpSocket::errorOccurred, this, [client] { client->abort(); });
    server->connectToHost(QHostAddress::LocalHost, m_target);
}

void TcpProxy::cut()
{
    const QList<Pair> pairs = std::exchange(m_pairs, {});
    for (const Pair &p : pairs) {
        if (p.client)
            p.client->abort();
        if (p.server)
            p.server->abort();
    }
}

} // namespace medrelay::consoletest
