#pragma once
// A real medrelay-server for the console's integration tests, started with
// QProcess on 127.0.0.1 (an ephemeral port, or a given one to restart on the
// same address), and a small WebSocket client that joins rooms the way the
// clinic's browsers do.

#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QStringList>
#include <QUrl>
#include <QTcpSocket>
#include <QWebSocket>

#include <functional>
#include <memory>
#include <optional>

namespace medrelay::consoletest {

class ServerProcess final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ServerProcess)

public:
    explicit ServerProcess(QString adminToken, QStringList extraArgs = {}, QObject *parent = nullptr);
    ~ServerProcess() override;

    // Runs in the child between fork and exec (e.g. to set a resource limit).
    void setChildModifier(std::function<void()> modifier) { m_process.setChildProcessModifier(std::move(modifier)); }
    [[nodiscard]] qint64 processId() const { return m_process.processId(); }

    // Starts and waits for the "listening on" line; `port` 0 lets the server choose.
    bool start(quint16 port = 0, int timeoutMs = 15000);
    // SIGTERM, then SIGKILL if it has not exited within `graceMs`.
    void stop(int graceMs = 8000);
    void terminate(); // SIGTERM only, without waiting

    [[nodiscard]] bool isRunning() const { return m_process.state() != QProcess::NotRunning; }
    [[nodiscard]] quint16 port() const { return m_port; }
    [[nodiscard]] QUrl httpUrl() const;
    [[nodiscard]] QUrl wsUrl() const;
    [[nodiscard]] QString output() const { return QString::fromUtf8(m_stdout + m_stderr); }
    [[nodiscard]] QString error() const { return m_error; }

private:
    QProcess m_process;
    QString m_token;
    QStringList m_extra;
    QTemporaryDir m_dataDir; // its own audit log: the log is locked per directory
    QByteArray m_stdout;
    QByteArray m_stderr;
    QString m_error;
    quint16 m_port = 0;
};

class RoomClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomClient)

public:
    explicit RoomClient(QObject *parent = nullptr);
    ~RoomClient() override;

    bool open(const QUrl &url, int timeoutMs = 5000);
    // Sends telemedicine_user_joined and waits for room_state; returns the connection id.
    std::optional<QString> join(const QString &roomId, qint64 appointmentId, qint64 userId, const QString &userName,
                                const QString &role, int timeoutMs = 5000);
    void chat(const QString &text);
    void send(const QJsonObject &message);
    bool waitDisconnected(int timeoutMs = 5000);
    // Waits until a message of `type` has been received (at any time so far).
    bool waitFor(const QString &type, int timeoutMs = 5000);
    [[nodiscard]] bool has(const QString &type) const;
    [[nodiscard]] bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    [[nodiscard]] QString roomId() const { return m_roomId; }
    [[nodiscard]] qint64 appointmentId() const { return m_appointmentId; }
    [[nodiscard]] QString connectionId() const { return m_connectionId; }
    [[nodiscard]] const QList<QJsonObject> &received() const { return m_received; }

private:
    QWebSocket m_socket;
    QList<QJsonObject> m_received;
    QString m_roomId;
    qint64 m_appointmentId = 0;
    QString m_connectionId;
};

// A WebSocket that completes its upgrade and then answers nothing, not even
// the server's close: a draining server waits for it (up to its close
// timeout), so the drain lasts long enough to be seen. Null on failure.
[[nodiscard]] std::unique_ptr<QTcpSocket> silentWebSocket(const ServerProcess &server, int timeoutMs = 5000);

} // namespace medrelay::consoletest
