#pragma once
// The two things the Listener hands a finished request head to: an HTTP
// request handler, and a WebSocket upgrade handler. Small interfaces, so the
// transport knows nothing of routes, rooms or limits.

#include "http/HttpRequest.h"
#include "transport/Stream.h"

#include <optional>

QT_BEGIN_NAMESPACE
class QTcpSocket;
QT_END_NAMESPACE

namespace medrelay::server {

class HttpRequestHandler
{
public:
    virtual ~HttpRequestHandler() = default;
    [[nodiscard]] virtual HttpResponse handle(const HttpRequest &request) = 0;

protected:
    HttpRequestHandler() = default;
};

class UpgradeHandler
{
public:
    virtual ~UpgradeHandler() = default;
    // Whether this upgrade may go ahead (draining, origin, connection caps,
    // a well-formed handshake): std::nullopt, or the refusal to send.
    [[nodiscard]] virtual std::optional<HttpResponse> check(const HttpRequest &request) = 0;
    // Takes a checked upgrade's QTcpSocket, its head still unread (the Qt
    // transport, where QWebSocketServer completes the handshake).
    virtual void adopt(QTcpSocket *socket, const HttpRequest &request) = 0;
    // Takes a checked upgrade's stream (the lean path; TLS done if any), the
    // head already read and `early` the bytes after it. The 101 answer is the
    // handler's to send.
    virtual void adopt(transport::Stream stream, const HttpRequest &request, const QByteArray &early) = 0;

protected:
    UpgradeHandler() = default;
};

} // namespace medrelay::server
