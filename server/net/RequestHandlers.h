#pragma once
// The two things the Listener hands a finished request head to: an HTTP
// request handler, and a WebSocket upgrade handler. Small interfaces, so the
// transport knows nothing of routes, rooms or limits.

#include "http/HttpRequest.h"

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
    // Takes the socket (its head still unread) and returns std::nullopt, or
    // refuses and returns the response to send instead.
    [[nodiscard]] virtual std::optional<HttpResponse> upgrade(QTcpSocket *socket, const HttpRequest &request) = 0;

protected:
    UpgradeHandler() = default;
};

} // namespace medrelay::server
