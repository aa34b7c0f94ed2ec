#include "RawHttp.h"

#include "TestServer.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QSslSocket>
#include <QTest>

namespace medrelay::test {

using namespace Qt::StringLiterals;

QJsonObject HttpResult::json() const
{
    return QJsonDocument::fromJson(body).object();
}

std::unique_ptr<QTcpSocket> connectToServer(quint16 port, int timeoutMs)
{
    if (!testTls()) {
        auto s = std::make_unique<QTcpSocket>();
        s->connectToHost(u"127.0.0.1"_s, port);
        if (!s->waitForConnected(timeoutMs))
            return nullptr;
        return s;
    }
    auto s = std::make_unique<QSslSocket>();
    s->setSslConfiguration(trustingTestCertificate());
    s->connectToHostEncrypted(u"127.0.0.1"_s, port);
    QElapsedTimer t;
    t.start();
    // Until encrypted, refused (the server closed), or the timeout.
    while (!s->isEncrypted() && s->state() != QAbstractSocket::UnconnectedState && t.elapsed() < timeoutMs)
        QTest::qWait(2);
    if (!s->isEncrypted())
        return nullptr;
    return s;
}

namespace {

// The length of the first complete response in `data` (head and
// Content-Length body), or -1 while it is not all there.
qsizetype completeResponse(const QByteArray &data)
{
    const qsizetype headEnd = data.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return -1;
    qint64 length = 0;
    for (const QByteArray &line : data.left(headEnd).split('\n')) {
        const QByteArray l = line.trimmed();
        if (l.toLower().startsWith("content-length:"))
            length = l.mid(15).trimmed().toLongLong();
    }
    const qsizetype total = headEnd + 4 + length;
    return data.size() >= total ? total : -1;
}

HttpResult parseResponse(const QByteArray &data)
{
    HttpResult r;
    const qsizetype headEnd = data.indexOf("\r\n\r\n");
    if (!data.startsWith("HTTP/1.1 ") || headEnd < 0)
        return r;
    r.status = data.mid(9, 3).toInt();
    r.headers = data.left(headEnd);
    r.body = data.mid(headEnd + 4);
    return r;
}

} // namespace

HttpResult readHttpResponse(QTcpSocket &s, QByteArray &buffer, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    qsizetype length = completeResponse(buffer);
    while (length < 0 && t.elapsed() < timeoutMs) {
        if (s.bytesAvailable() == 0 && s.state() != QAbstractSocket::ConnectedState)
            break;
        QTest::qWait(5);
        buffer += s.readAll();
        length = completeResponse(buffer);
    }
    if (length < 0)
        return {};
    const HttpResult r = parseResponse(buffer.left(length));
    buffer.remove(0, length);
    return r;
}

HttpResult rawHttp(quint16 port, const QByteArray &raw, int timeoutMs)
{
    HttpResult r;
    // Over TLS a refused handshake is "no answer", as a plain server's
    // silence would be.
    const auto socket = connectToServer(port, timeoutMs);
    if (!socket)
        return r;
    QTcpSocket &s = *socket;
    s.write(raw);
    // Until the first answer is complete (the server may keep the
    // connection open for another request), the server closes, or the timeout.
    QByteArray data;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs && completeResponse(data) < 0) {
        if (s.bytesAvailable() == 0 && s.state() != QAbstractSocket::ConnectedState)
            break;
        QTest::qWait(5);
        data += s.readAll();
    }
    data += s.readAll();
    const qsizetype length = completeResponse(data);
    return parseResponse(length < 0 ? data : data.left(length));
}

HttpResult httpGet(quint16 port, const QByteArray &path, const QByteArray &bearer)
{
    QByteArray req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!bearer.isEmpty())
        req += "Authorization: Bearer " + bearer + "\r\n";
    return rawHttp(port, req + "\r\n");
}

HttpResult httpPost(quint16 port, const QByteArray &path, const QJsonObject &body, const QByteArray &bearer)
{
    const QByteArray json = QJsonDocument(body).toJson(QJsonDocument::Compact);
    QByteArray req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    if (!bearer.isEmpty())
        req += "Authorization: Bearer " + bearer + "\r\n";
    req += "Content-Length: " + QByteArray::number(json.size()) + "\r\n\r\n" + json;
    return rawHttp(port, req);
}

std::unique_ptr<QTcpSocket> rawWebSocket(quint16 port, const QByteArray &path, int timeoutMs)
{
    auto s = connectToServer(port, timeoutMs);
    if (!s)
        return nullptr;
    s->write("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QByteArray head;
    QElapsedTimer t;
    t.start();
    while (!head.contains("\r\n\r\n") && t.elapsed() < timeoutMs) {
        QTest::qWait(5);
        // Read byte by byte up to the blank line, leaving frames unread.
        while (!head.contains("\r\n\r\n") && s->bytesAvailable() > 0)
            head += s->read(1);
    }
    if (!head.startsWith("HTTP/1.1 101"))
        return nullptr;
    return s;
}

QByteArray clientTextFrame(const QByteArray &payload)
{
    return clientFrame(0x1, payload);
}

QByteArray clientFrame(quint8 opcode, const QByteArray &payload)
{
    QByteArray f;
    f += char(0x80 | (opcode & 0x0F));
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    if (payload.size() < 126) {
        f += char(0x80 | payload.size());
    } else if (payload.size() < 65536) {
        f += char(0x80 | 126);
        f += char((payload.size() >> 8) & 0xff);
        f += char(payload.size() & 0xff);
    } else {
        f += char(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            f += char((static_cast<quint64>(payload.size()) >> (8 * i)) & 0xff);
    }
    f.append(mask, 4);
    for (qsizetype i = 0; i < payload.size(); ++i)
        f += char(payload[i] ^ mask[i % 4]);
    return f;
}

} // namespace medrelay::test
