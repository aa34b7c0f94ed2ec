#pragma once
// A WebSocket client for tests: records every JSON message it receives and
// how the connection closed, and waits for messages with bounded timeouts.

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QUrl>
#include <QWebSocket>

#include <optional>

namespace medrelay::test {

class TestClient final : public QObject
{
    Q_OBJECT
public:
    explicit TestClient(QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(TestClient)

    // Connects and waits for the handshake; false on failure or timeout.
    bool open(const QUrl &url, int timeoutMs = 5000, const QNetworkRequest &extra = {});
    void send(const QJsonObject &message);
    void sendRaw(const QString &text);
    void close() { m_socket.close(); }

    // Waits for the next unread message of `type` (any type when empty),
    // consumes it and everything before it.
    std::optional<QJsonObject> waitFor(const QString &type, int timeoutMs = 3000);
    // True when no message of `type` arrives within `ms`.
    bool staysQuiet(const QString &type, int ms = 300);
    // Joins a room and waits for room_state; returns this connection's id.
    QString join(const QString &roomId, qint64 appointmentId, const QJsonValue &userId, const QString &userName);

    [[nodiscard]] QList<QJsonObject> received() const { return m_received; }
    [[nodiscard]] int unread() const { return static_cast<int>(m_received.size() - m_cursor); }
    [[nodiscard]] bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    bool waitDisconnected(int timeoutMs = 5000);
    [[nodiscard]] int closeCode() const { return m_closeCode; }
    [[nodiscard]] QWebSocket &socket() { return m_socket; }

private:
    QWebSocket m_socket;
    QList<QJsonObject> m_received;
    qsizetype m_cursor = 0;
    bool m_disconnected = false;
    int m_closeCode = -1;
};

} // namespace medrelay::test
