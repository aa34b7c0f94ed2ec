#include "TcpRelay.h"

#include <QHostAddress>
#include <QList>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

namespace medrelay::test {

// The sockets, on the relay's thread.
class TcpForwarder final : public QObject
{
public:
    TcpForwarder(quint16 targetPort, std::atomic<int> &relayed) : m_targetPort(targetPort), m_relayed(relayed)
    {
        connect(&m_server, &QTcpServer::newConnection, this, &TcpForwarder::onNewConnection);
    }

    quint16 listen(quint16 port)
    {
        if (!m_server.isListening() && !m_server.listen(QHostAddress::LocalHost, port))
            return 0;
        return m_server.serverPort();
    }

    void cut()
    {
        m_server.close();
        const QList<QPointer<QTcpSocket>> sockets = std::exchange(m_sockets, {});
        for (const QPointer<QTcpSocket> &s : sockets) {
            if (s) {
                s->abort();
                s->deleteLater();
            }
        }
    }

private:
    void onNewConnection()
    {
        while (QTcpSocket *client = m_server.nextPendingConnection()) {
            ++m_relayed;
            auto *upstream = new QTcpSocket(this);
            client->setParent(this);
            m_sockets.append(client);
            m_sockets.append(upstream);
            // What arrives before the upstream connection is up waits in
            // the client socket's buffer.
            const auto pump = [](QTcpSocket *from, QTcpSocket *to) {
                if (to->state() == QAbstractSocket::ConnectedState)
                    to->write(from->readAll());
            };
            connect(client, &QTcpSocket::readyRead, this, [=] { pump(client, upstream); });
            connect(upstream, &QTcpSocket::readyRead, this, [=] { pump(upstream, client); });
            connect(upstream, &QTcpSocket::connected, this, [=] { pump(client, upstream); });
            const auto close = [client, upstream] {
                client->disconnectFromHost();
                upstream->disconnectFromHost();
            };
            connect(client, &QTcpSocket::disconnected, this, close);
            connect(upstream, &QTcpSocket::disconnected, this, close);
            connect(upstream, &QTcpSocket::errorOccurred, this, close);
            upstream->connectToHost(QHostAddress::LocalHost, m_targetPort);
        }
    }

    quint16 m_targetPort = 0;
    std::atomic<int> &m_relayed;
    QTcpServer m_server{this};
    QList<QPointer<QTcpSocket>> m_sockets;
};

TcpRelay::TcpRelay(quint16 targetPort)
    : m_forwarder(new TcpForwarder(targetPort, m_relayed))
{
    m_forwarder->moveToThread(&m_thread);
    QObject::connect(&m_thread, &QThread::finished, m_forwarder, &QObject::deleteLater);
    m_thread.start();
}

TcpRelay::~TcpRelay()
{
    cut();
    m_thread.quit();
    m_thread.wait();
}

QUrl TcpRelay::httpUrl() const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port));
}

bool TcpRelay::start()
{
    quint16 port = 0;
    QMetaObject::invokeMethod(
        m_forwarder, [this, &port] { port = m_forwarder->listen(m_port); }, Qt::BlockingQueuedConnection);
    if (port == 0)
        return false;
    m_port = port;
    return true;
}

void TcpRelay::cut()
{
    QMetaObject::invokeMethod(m_forwarder, [this] { m_forwarder->cut(); }, Qt::BlockingQueuedConnection);
}

} // namespace medrelay::test
