#pragma once
// A TCP relay on 127.0.0.1 between the console and a server, for tests of
// what a network does to the console: cut() drops every connection at once
// (as a failing link would), and while refusing new connections are closed
// on arrival, so the console stays away for as long as the test wants.

#include <QList>
#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

namespace medrelay::consoletest {

class TcpProxy final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TcpProxy)

public:
    explicit TcpProxy(quint16 targetPort, QObject *parent = nullptr);
    ~TcpProxy() override;

    [[nodiscard]] bool isListening() const { return m_server.isListening(); }
    [[nodiscard]] QUrl httpUrl() const;
    // Drops every relayed connection (both sides reset).
    void cut();
    // While on, new connections are closed as soon as they arrive.
    void setRefusing(bool refusing) { m_refusing = refusing; }
    [[nodiscard]] int connectionsRelayed() const { return m_relayed; }

private:
    struct Pair
    {
        QPointer<QTcpSocket> client;
        QPointer<QTcpSocket> server;
    };
    void relay(QTcpSocket *client);

    QTcpServer m_server;
    QList<Pair> m_pairs;
    quint16 m_target = 0;
    int m_relayed = 0;
    bool m_refusing = false;
};

} // namespace medrelay::consoletest
