#pragma once
// Plain HTTP over a QTcpSocket for tests, so requests are exactly what the
// test wrote (no client library fixing them up), plus a raw WebSocket that
// completes the handshake and then misbehaves on purpose. When the suite
// runs over TLS (MEDRELAY_TEST_TLS=1) the sockets are QSslSockets that trust
// the test certificate: the same bytes, encrypted.

#include <QByteArray>
#include <QJsonObject>
#include <QTcpSocket>

#include <memory>

namespace medrelay::test {

struct HttpResult
{
    int status = 0; // 0: no answer
    QByteArray headers;
    QByteArray body;
    [[nodiscard]] QJsonObject json() const;
};

// A connected socket to 127.0.0.1:port, TLS done when the run uses TLS;
// nullptr on failure. The event loop runs while it waits (the server may be
// in this thread).
std::unique_ptr<QTcpSocket> connectToServer(quint16 port, int timeoutMs = 5000);

// Sends `raw` as is and reads the first answer: until it is complete
// (Content-Length), the server closes, or the timeout.
HttpResult rawHttp(quint16 port, const QByteArray &raw, int timeoutMs = 5000);
// Reads one answer from `socket` (a kept connection); `buffer` holds bytes
// read beyond it for the next call. status 0: none complete in time.
HttpResult readHttpResponse(QTcpSocket &socket, QByteArray &buffer, int timeoutMs = 5000);
HttpResult httpGet(quint16 port, const QByteArray &path, const QByteArray &bearer = {});
HttpResult httpPost(quint16 port, const QByteArray &path, const QJsonObject &body, const QByteArray &bearer = {});

// Opens a TCP connection and completes a WebSocket handshake on /ws; then the
// test decides what (not) to do. Returns nullptr when the upgrade failed.
std::unique_ptr<QTcpSocket> rawWebSocket(quint16 port, const QByteArray &path = "/ws", int timeoutMs = 5000);
// A masked client text frame.
QByteArray clientTextFrame(const QByteArray &payload);
// A masked client frame of any opcode (0x9 ping, 0xA pong, ...), FIN set.
QByteArray clientFrame(quint8 opcode, const QByteArray &payload);

} // namespace medrelay::test
