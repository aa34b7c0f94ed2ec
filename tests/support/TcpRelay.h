#pragma once
// A loopback TCP forwarder between a client and a server (a console and
// medrelay, medrelay and Redis): the test can cut it, closing every
// connection and refusing new ones, as a failing link would, and restore it
// on the same port. A network partition between one process and another
// while the rest still reach it. It forwards on a thread of its own, so a
// test thread that blocks (a server that waits for Redis while it starts)
// does not stall it.

#include <QThread>
#include <QUrl>

#include <atomic>

#include <memory>

namespace medrelay::test {

class TcpForwarder;

class TcpRelay final
{
public:
    explicit TcpRelay(quint16 targetPort);
    ~TcpRelay();
    Q_DISABLE_COPY_MOVE(TcpRelay)

    // Listens on 127.0.0.1 (a free port the first time, the same one after a cut).
    bool start();
    // Closes every forwarded connection and stops listening.
    void cut();
    bool restore() { return start(); }
    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] QUrl httpUrl() const;
    // Connections forwarded so far.
    [[nodiscard]] int connectionsRelayed() const { return m_relayed.load(); }

private:
    QThread m_thread;
    TcpForwarder *m_forwarder = nullptr; // lives on m_thread
    quint16 m_port = 0;
    std::atomic<int> m_relayed{0};
};

} // namespace medrelay::test
