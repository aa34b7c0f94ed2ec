#pragma once
// A redis-server of the test's own: on 127.0.0.1 and a free port, in a
// temporary directory, with its append-only file on so that a restart (on the
// same port and directory) keeps what it held, as a production Redis must.
// Stopped when the object goes. Also a small blocking client for checks.

#include <QByteArray>
#include <QList>
#include <QProcess>
#include <QTemporaryDir>
#include <QVariant>

#include <memory>

namespace medrelay::test {

class RedisServer final
{
public:
    RedisServer();
    ~RedisServer();
    Q_DISABLE_COPY_MOVE(RedisServer)

    // Whether redis-server is installed (scripts/install-deps.sh installs it).
    [[nodiscard]] static bool available();

    // Starts it (the first time on a free port; later on the same one) and
    // waits until it answers PING. `extraArgs` are added to its command line.
    bool start(const QStringList &extraArgs = {}, int timeoutMs = 15000);
    // SIGTERM (Redis writes its files and exits), then waits.
    void stop();
    // SIGKILL: what the append-only file already holds survives.
    void kill();
    // SIGSTOP / SIGCONT: a Redis that stops answering without closing its
    // sockets (the kernel still accepts connections for it). False when it
    // is not running.
    bool pause();
    bool resume();
    // While stopped: deletes what it kept on disk (append-only file and
    // snapshot), so that the next start() is a Redis on the same port that
    // lost all its data. False when running or a file could not be removed.
    bool wipe();
    [[nodiscard]] bool isRunning() const { return m_process.state() == QProcess::Running; }
    // Before each test: running (started again if a test stopped it) and
    // holding nothing of the previous test. False, with error(), otherwise.
    bool startEmpty();

    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] QString url(int db = 0) const;
    [[nodiscard]] const QString &error() const { return m_error; }
    [[nodiscard]] QString directory() const { return m_dir.path(); }

    // One command over a fresh connection: the reply as a QVariant
    // (QByteArray for strings and status, qint64, QVariantList, or an
    // invalid QVariant for nil); errors as a QString. Blocks.
    [[nodiscard]] QVariant command(const QList<QByteArray> &args, int timeoutMs = 5000) const;

private:
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    QString m_error;
};

} // namespace medrelay::test
