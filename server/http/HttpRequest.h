#pragma once
// One parsed HTTP request head (and body, for requests that carry one).

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QString>
#include <QUrlQuery>

namespace medrelay::server {

struct HttpRequest
{
    QByteArray method;
    QString path;      // decoded path, no query
    QUrlQuery query;
    QByteArray rawTarget;
    QHash<QByteArray, QByteArray> headers; // names lower-cased
    QByteArray body;
    qint64 contentLength = 0;
    bool upgrade = false; // Connection: upgrade with Upgrade: websocket
    // The client may send another request on this connection: HTTP/1.1
    // without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
    bool keepAlive = false;
    int headBytes = 0;    // length of the head including the blank line
    QHostAddress peer; // the client: behind a trusted proxy, taken from X-Forwarded-For

    [[nodiscard]] QByteArray header(const QByteArray &lowerName) const { return headers.value(lowerName); }
};

struct HttpResponse
{
    int status = 200;
    QByteArray contentType = "application/json";
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> extraHeaders;
    QByteArray cacheControl = "no-store"; // static files: no-cache with an ETag
    bool omitBody = false;                // HEAD and 304: the head only
    // What happens to the connection after this answer, set by the Listener:
    // closed ("Connection: close", the default), or kept for the client's
    // next request, which must come within keepAliveTimeoutS, and at most
    // keepAliveMax more of them.
    bool keepAlive = false;
    int keepAliveTimeoutS = 0;
    int keepAliveMax = 0;

    [[nodiscard]] QByteArray serialise() const;
    [[nodiscard]] static HttpResponse json(int status, const QByteArray &body);
    [[nodiscard]] static HttpResponse error(int status, const QString &code, const QString &message);
};

} // namespace medrelay::server
