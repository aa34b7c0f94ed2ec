#include "ServerProcess.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>

namespace medrelay::consoletest {

using namespace Qt::StringLiterals;

ServerProcess::ServerProcess(QString adminToken, QStringList extraArgs, QObject *parent)
    : QObject(parent), m_token(std::move(adminToken)), m_extra(std::move(extraArgs))
{
    // Drained continuously so a chatty server never blocks on a full pipe.
    connect(&m_process, &QProcess::readyReadStandardError, this,
            [this] { m_stderr += m_process.readAllStandardError(); });
}

ServerProcess::~ServerProcess()
{
    stop(3000);
}

QUrl ServerProcess::httpUrl() const
{
    return QUrl(u"http://127.0.0.1:%1"_s.arg(m_port));
}

QUrl ServerProcess::wsUrl() const
{
    return QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(m_port));
}

bool ServerProcess::start(quint16 port, int timeoutMs)
{
    m_stdout.clear();
    m_stderr.clear();
    m_error.clear();
    QStringList args{u"--port"_s, QString::number(port), u"--host"_s, u"127.0.0.1"_s, u"--env"_s, u"development"_s,
                     u"--data-dir"_s, m_dataDir.path()};
    if (!m_token.isEmpty())
        args << u"--admin-token"_s << m_token;
    args << m_extra;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(u"MEDRELAY_ADMIN_TOKEN"_s);
    m_process.setProcessEnvironment(env);
    m_process.start(QStringLiteral(MEDRELAY_SERVER_EXECUTABLE), args);
    if (!m_process.waitForStarted(timeoutMs)) {
        m_error = u"could not start %1: %2"_s.arg(QStringLiteral(MEDRELAY_SERVER_EXECUTABLE), m_process.errorString());
        return false;
    }
    static const QRegularExpression listening(u"medrelay-server listening on (\\S+):(\\d+)"_s);
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (m_process.state() == QProcess::NotRunning)
            break;
        m_process.waitForReadyRead(50);
        m_stdout += m_process.readAllStandardOutput();
        const auto match = listening.match(QString::fromUtf8(m_stdout));
        if (match.hasMatch()) {
            m_port = static_cast<quint16>(match.captured(2).toUInt());
            return m_port != 0;
        }
    }
    m_stderr += m_process.readAllStandardError();
    m_error = u"server did not report its port (exit %1): %2"_s.arg(m_process.exitCode()).arg(output());
    stop(1000);
    return false;
}

void ServerProcess::terminate()
{
    if (m_process.state() != QProcess::NotRunning)
        m_process.terminate();
}

void ServerProcess::stop(int graceMs)
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(graceMs)) {
        m_process.kill();
        m_process.waitForFinished(3000);
    }
    m_stdout += m_process.readAllStandardOutput();
    m_stderr += m_process.readAllStandardError();
}

RoomClient::RoomClient(QObject *parent)
    : QObject(parent)
{
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8());
        if (doc.isObject())
            m_received.append(doc.object());
    });
}

RoomClient::~RoomClient()
{
    m_socket.abort();
}

bool RoomClient::open(const QUrl &url, int timeoutMs)
{
    QSignalSpy connected(&m_socket, &QWebSocket::connected);
    m_socket.open(url);
    return connected.wait(timeoutMs) || isConnected();
}

std::optional<QString> RoomClient::join(const QString &roomId, qint64 appointmentId, qint64 userId,
                                        const QString &userName, const QString &role, int timeoutMs)
{
    m_roomId = roomId;
    m_appointmentId = appointmentId;
    send({{u"type"_s, u"telemedicine_user_joined"_s},
          {u"roomId"_s, roomId},
          {u"appointmentId"_s, static_cast<double>(appointmentId)},
          {u"userId"_s, static_cast<double>(userId)},
          {u"userName"_s, userName},
          {u"role"_s, role}});
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        for (const QJsonObject &m : std::as_const(m_received)) {
            if (m.value("type"_L1).toString() == "room_state"_L1 && m.value("roomId"_L1).toString() == roomId) {
                const QJsonValue id = m.value("connectionId"_L1);
                m_connectionId = id.isString() ? id.toString() : QString::number(id.toInteger());
                return m_connectionId;
            }
        }
        QTest::qWait(10);
    }
    return std::nullopt;
}

void RoomClient::chat(const QString &text)
{
    send({{u"type"_s, u"telemedicine_chat_message"_s},
          {u"roomId"_s, m_roomId},
          {u"appointmentId"_s, static_cast<double>(m_appointmentId)},
          {u"message"_s, text}});
}

void RoomClient::send(const QJsonObject &message)
{
    m_socket.sendTextMessage(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
}

bool RoomClient::has(const QString &type) const
{
    return std::any_of(m_received.cbegin(), m_received.cend(),
                       [&type](const QJsonObject &m) { return m.value("type"_L1).toString() == type; });
}

bool RoomClient::waitFor(const QString &type, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!has(type) && !deadline.hasExpired())
        QTest::qWait(10);
    return has(type);
}

bool RoomClient::waitDisconnected(int timeoutMs)
{
    if (m_socket.state() == QAbstractSocket::UnconnectedState)
        return true;
    QSignalSpy disconnected(&m_socket, &QWebSocket::disconnected);
    return disconnected.wait(timeoutMs) || m_socket.state() == QAbstractSocket::UnconnectedState;
}

std::unique_ptr<QTcpSocket> silentWebSocket(const ServerProcess &server, int timeoutMs)
{
    auto socket = std::make_unique<QTcpSocket>();
    socket->connectToHost(QHostAddress::LocalHost, server.port());
    if (!socket->waitForConnected(timeoutMs))
        return nullptr;
    socket->write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QByteArray head;
    const QDeadlineTimer deadline(timeoutMs);
    while (!head.contains("\r\n\r\n") && !deadline.hasExpired()) {
        if (socket->waitForReadyRead(50))
            head += socket->readAll();
    }
    if (!head.startsWith("HTTP/1.1 101"))
        return nullptr;
    return socket;
}

} // namespace medrelay::consoletest
