#include "http/HttpRequest.h"

namespace medrelay::server {

QByteArray HttpResponse::serialise() const
{
    QByteArray out;
    out.reserve(body.size() + 256);
    out += "HTTP/1.1 " + QByteArray::number(status) + ' ';
    switch (status) {
    case 200: out += "OK"; break;
    case 304: out += "Not Modified"; break;
    case 400: out += "Bad Request"; break;
    case 401: out += "Unauthorized"; break;
    case 403: out += "Forbidden"; break;
    case 404: out += "Not Found"; break;
    case 405: out += "Method Not Allowed"; break;
    case 408: out += "Request Timeout"; break;
    case 411: out += "Length Required"; break;
    case 413: out += "Payload Too Large"; break;
    case 414: out += "URI Too Long"; break;
    case 426: out += "Upgrade Required"; break;
    case 429: out += "Too Many Requests"; break;
    case 431: out += "Request Header Fields Too Large"; break;
    case 500: out += "Internal Server Error"; break;
    case 503: out += "Service Unavailable"; break;
    case 505: out += "HTTP Version Not Supported"; break;
    default: out += "Status"; break;
    }
    if (status != 304) {
        out += "\r\nContent-Type: " + contentType;
        out += "\r\nContent-Length: " + QByteArray::number(body.size());
    }
    out += "\r\nCache-Control: " + cacheControl;
    out += "\r\nX-Content-Type-Options: nosniff\r\n";
    if (keepAlive) {
        // HTTP/1.1 keeps connections by default; the header also tells
        // HTTP/1.0 clients, and Keep-Alive how long the server waits.
        out += "Connection: keep-alive\r\nKeep-Alive: timeout=" + QByteArray::number(keepAliveTimeoutS)
               + ", max=" + QByteArray::number(keepAliveMax) + "\r\n";
    } else {
        out += "Connection: close\r\n";
    }
    for (const auto &h : extraHeaders)
        out += h.first + ": " + h.second + "\r\n";
    out += "\r\n";
    if (!omitBody)
        out += body;
    return out;
}

HttpResponse HttpResponse::json(int status, const QByteArray &body)
{
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

HttpResponse HttpResponse::error(int status, const QString &code, const QString &message)
{
    QByteArray body = R"({"error":{"code":")" + code.toUtf8() + R"(","message":")";
    // Messages are ours, but escape quotes and backslashes all the same.
    for (const char c : message.toUtf8()) {
        if (c == '"' || c == '\\')
            body += '\\';
        if (static_cast<unsigned char>(c) >= 0x20)
            body += c;
    }
    body += R"("}})";
    return json(status, body);
}

} // namespace medrelay::server
