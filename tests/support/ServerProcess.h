#pragma once
// The real medrelay-server executable as a child process on 127.0.0.1, for
// tests that must see the server from outside: its resident memory in
// /proc, or file descriptors it holds apart from the test's own.

#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

#include <memory>

namespace medrelay::test {

class ServerProcess final
{
public:
    // Starts medrelay-server with `args` (after --host 127.0.0.1 --port 0)
    // in a clean environment and waits for its "listening on" line.
    explicit ServerProcess(const QStringList &args);
    ~ServerProcess();
    Q_DISABLE_COPY_MOVE(ServerProcess)

    [[nodiscard]] bool started() const { return m_port != 0; }
    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] qint64 pid() const { return m_process.processId(); }
    [[nodiscard]] bool isRunning() const { return m_process.state() == QProcess::Running; }
    // A field of /proc/<pid>/status in KiB (VmRSS, VmHWM, ...), -1 if absent.
    [[nodiscard]] qint64 statusKiB(const char *field) const;
    // Connections the kernel has completed on the server's listening socket
    // that the server has not accepted yet (/proc/net/tcp); -1 if unknown.
    // 0 after a client's connect() returned means the server took it.
    [[nodiscard]] int acceptQueue() const;
    [[nodiscard]] QByteArray standardError();

private:
    QTemporaryDir m_dataDir;
    QProcess m_process;
    quint16 m_port = 0;
};

} // namespace medrelay::test
