#pragma once
// The real medrelay-server executable for tests that need a process of its
// own: kill -9 and a restart on the same data directory, resident memory,
// signals. Listens on 127.0.0.1 and a port of its choosing.

#include <QProcess>
#include <QStringList>
#include <QUrl>

namespace medrelay::test {

class ServerBinary final
{
public:
    ServerBinary() = default;
    ~ServerBinary();
    Q_DISABLE_COPY_MOVE(ServerBinary)

    // Starts the server with `args` (plus --host 127.0.0.1 --port 0) and
    // waits for its "listening on" line. False, with error() set, otherwise.
    bool start(const QStringList &args, int timeoutMs = 15000);
    // SIGKILL, and waits for the process to be gone.
    void kill();
    // SIGTERM, then SIGKILL after `graceMs`.
    void stop(int graceMs = 8000);

    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] qint64 pid() const { return m_process.processId(); }
    [[nodiscard]] QUrl wsUrl() const;
    [[nodiscard]] const QString &error() const { return m_error; }
    [[nodiscard]] QString output();

private:
    QProcess m_process;
    QByteArray m_output;
    QString m_error;
    quint16 m_port = 0;
};

} // namespace medrelay::test
