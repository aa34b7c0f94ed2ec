#include "TestClient.h"

#include "TestServer.h"

#include <QJsonDocument>
#include <QSignalSpy>
#include <QTest>

namespace medrelay::test {

using namespace Qt::StringLiterals;

TestClient::TestClient(QObject *parent)
    : QObject(parent)
{
    // Over TLS the suite's server has a certificate made for the run.
    if (testTls())
        m_socket.setSslConfiguration(trustingTestCertificate());
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        m_received.append(QJsonDocument::fromJson(text.toUtf8()).object());
    });
    connect(&m_socket, &QWebSocket::disconnected, this, [this] {
        m_disconnected = true;
        m_closeCode = m_socket.closeCode();
    });
}

bool TestClient::open(const QUrl &url, int timeoutMs, const QNetworkRequest &extra)
{
    QSignalSpy connected(&m_socket, &QWebSocket::connected);
    QNetworkRequest request = extra;
    request.setUrl(url);
    m_socket.open(request);
    return connected.wait(timeoutMs) || connected.size() > 0;
}

void TestClient::send(const QJsonObject &message)
{
    m_socket.sendTextMessage(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
}

void TestClient::sendRaw(const QString &text)
{
    m_socket.sendTextMessage(text);
}

std::optional<QJsonObject> TestClient::waitFor(const QString &type, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        while (m_cursor < m_received.size()) {
            const QJsonObject m = m_received.at(m_cursor++);
            if (type.isEmpty() || m.value("type"_L1).toString() == type)
                return m;
        }
        if (timer.elapsed() >= timeoutMs)
            return std::nullopt;
        QTest::qWait(5);
    }
}

bool TestClient::staysQuiet(const QString &type, int ms)
{
    QTest::qWait(ms);
    for (qsizetype i = m_cursor; i < m_received.size(); ++i) {
        if (type.isEmpty() || m_received.at(i).value("type"_L1).toString() == type)
            return false;
    }
    return true;
}

QString TestClient::join(const QString &roomId, qint64 appointmentId, const QJsonValue &userId, const QString &userName)
{
    send({{u"type"_s, u"telemedicine_user_joined"_s},
          {u"roomId"_s, roomId},
          {u"appointmentId"_s, static_cast<double>(appointmentId)},
          {u"userId"_s, userId},
          {u"userName"_s, userName}});
    const auto state = waitFor(u"room_state"_s);
    return state ? state->value("connectionId"_L1).toString() : QString();
}

bool TestClient::waitDisconnected(int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!m_disconnected && timer.elapsed() < timeoutMs)
        QTest::qWait(5);
    return m_disconnected;
}

} // namespace medrelay::test
