#include "http/HttpRouter.h"

#include "admin/AdminService.h"
#include "config/ServerConfig.h"
#include "security/ConstantTime.h"

#include <QJsonDocument>

namespace medrelay::server {

using namespace Qt::StringLiterals;
namespace Path = adminapi::Path;

namespace {

QByteArray toJson(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

HttpResponse badBody()
{
    return HttpResponse::error(400, u"invalid_message"_s, u"request body is not the expected JSON object"_s);
}

// The media type of a Content-Type value, without parameters, lower case.
QByteArray mediaType(const QByteArray &contentType)
{
    const qsizetype semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.left(semicolon)).trimmed().toLower();
}

std::optional<QJsonObject> jsonBody(const HttpRequest &request)
{
    if (request.body.trimmed().isEmpty())
        return QJsonObject{};
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(request.body, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

} // namespace

HttpRouter::HttpRouter(const ServerConfig &config, AdminService &admin, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_admin(admin)
{}

bool HttpRouter::originAllowed(const HttpRequest &request) const
{
    // Browsers send Origin with every cross-origin request and every POST;
    // the console and command-line tools send none. A page may only reach
    // the admin API from an origin the operator listed for it: the origins
    // allowed to open WebSockets (the patients' web application) are not.
    if (!request.headers.contains("origin"))
        return true;
    return m_config.adminAllowedOrigins.contains(QString::fromUtf8(request.header("origin").trimmed()));
}

bool HttpRouter::authorised(const HttpRequest &request) const
{
    if (m_config.adminToken.isEmpty())
        return true; // development without a token keeps the original's open /stats
    const QByteArray auth = request.header("authorization").trimmed();
    // The scheme name is case-insensitive (RFC 9110 section 11.1).
    const qsizetype space = auth.indexOf(' ');
    if (space < 0 || auth.left(space).toLower() != "bearer")
        return false;
    return security::constantTimeEquals(auth.mid(space + 1).trimmed(), m_config.adminToken.toUtf8());
}

std::optional<HttpResponse> HttpRouter::checkAdmin(const HttpRequest &request)
{
    // In every mode, before the token: without a token (development) this is
    // what keeps a web page from driving the admin API through a browser.
    if (!originAllowed(request)) {
        Q_EMIT adminRequestRefused(request.peer, u"origin_forbidden"_s);
        return HttpResponse::error(403, u"forbidden"_s, u"origin not allowed for the admin API"_s);
    }
    if (!authorised(request)) {
        Q_EMIT adminRequestRefused(request.peer, u"unauthorized"_s);
        HttpResponse r = HttpResponse::error(401, u"unauthorized"_s, u"missing or wrong admin bearer token"_s);
        r.extraHeaders.append(qMakePair(QByteArray("WWW-Authenticate"), QByteArray("Bearer realm=\"medrelay\"")));
        return r;
    }
    return std::nullopt;
}

HttpResponse HttpRouter::handle(const HttpRequest &request)
{
    const QString &path = request.path;
    const bool isGet = request.method == "GET" || request.method == "HEAD";

    if (path == QLatin1StringView(Path::Health)) {
        if (!isGet)
            return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        // Room ids stay out of the open health check in production.
        const auto health = m_admin.health(m_config.mode == Mode::Development);
        return HttpResponse::json(health.status == u"healthy"_s ? 200 : 503, toJson(health.toJson()));
    }
    if (path == m_config.wsPath)
        return HttpResponse::error(426, u"upgrade_required"_s, u"this path accepts WebSocket upgrades only"_s);

    const bool isStats = path == QLatin1StringView(Path::Stats);
    const bool isMetrics = path == QLatin1StringView(Path::Metrics);
    const bool isAdmin = path.startsWith(u"/admin/"_s);
    if (!isStats && !isMetrics && !isAdmin) {
        if (m_extra) {
            if (auto r = m_extra->route(request))
                return *r;
        }
        return HttpResponse::error(404, u"not_found"_s, u"no such endpoint"_s);
    }

    if (auto refusal = checkAdmin(request))
        return *refusal;
    if (isStats) {
        if (!isGet)
            return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        return HttpResponse::json(200, toJson(m_admin.stats().toJson()));
    }
    if (isMetrics) {
        if (!isGet)
            return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        HttpResponse r = HttpResponse::json(200, m_admin.prometheus());
        r.contentType = "text/plain; version=0.0.4; charset=utf-8";
        return r;
    }
    return routeAdmin(request);
}

HttpResponse HttpRouter::routeAdmin(const HttpRequest &request)
{
    const QString &path = request.path;
    const QString actor = u"admin:"_s + request.peer.toString();

    if (path == QLatin1StringView(Path::Events)) {
        if (request.method != "GET")
            return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        bool ok = true;
        const QString since = request.query.queryItemValue(u"since"_s);
        const qint64 n = since.isEmpty() ? 0 : since.toLongLong(&ok);
        if (!ok || n < 0)
            return HttpResponse::error(400, u"invalid_field"_s, u"since must be a non-negative integer"_s);
        return HttpResponse::json(200, toJson(m_admin.events(n).toJson()));
    }

    if (path == QLatin1StringView(Path::Rooms)) {
        if (request.method != "GET")
            return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
        bool okOffset = true;
        bool okLimit = true;
        const QString offsetText = request.query.queryItemValue(u"offset"_s);
        const QString limitText = request.query.queryItemValue(u"limit"_s);
        const int offset = offsetText.isEmpty() ? 0 : offsetText.toInt(&okOffset);
        const int limit = limitText.isEmpty() ? 100 : limitText.toInt(&okLimit);
        const QString filter = request.query.queryItemValue(u"filter"_s, QUrl::FullyDecoded).left(128);
        if (!okOffset || !okLimit || offset < 0 || limit < 1 || limit > 500)
            return HttpResponse::error(400, u"invalid_field"_s,
                                       u"offset must be a non-negative integer and limit from 1 to 500"_s);
        return HttpResponse::json(200, toJson(m_admin.roomPage(offset, limit, filter).toJson()));
    }
    if (request.method == "GET" && path.startsWith(QLatin1StringView(Path::RoomsPrefix))) {
        const QStringList parts = path.split(u'/', Qt::SkipEmptyParts); // admin, rooms, id
        if (parts.size() != 3)
            return HttpResponse::error(404, u"not_found"_s, u"no such admin endpoint"_s);
        const auto room = m_admin.room(parts[2]);
        if (!room)
            return HttpResponse::error(404, u"not_found"_s, u"no such room"_s);
        return HttpResponse::json(200, toJson(room->toJson(true)));
    }

    if (request.method != "POST")
        return HttpResponse::error(405, u"method_not_allowed"_s, u"admin actions use POST"_s);
    // JSON only: a browser sends text/plain, form and multipart bodies
    // cross-site without asking first; application/json it does not.
    if (mediaType(request.header("content-type")) != "application/json")
        return HttpResponse::error(415, u"unsupported_media_type"_s,
                                   u"admin actions take a JSON body: Content-Type: application/json"_s);
    const auto body = jsonBody(request);
    if (!body)
        return badBody();

    if (path == QLatin1StringView(Path::CloseIdleRooms)) {
        const auto req = adminapi::CloseIdleRequest::fromJson(*body);
        if (!req)
            return HttpResponse::error(400, u"invalid_field"_s, u"idleSeconds must be a number of seconds"_s);
        return HttpResponse::json(200, toJson(m_admin.closeIdleRooms(*req, actor).toJson()));
    }

    const QStringList parts = path.split(u'/', Qt::SkipEmptyParts); // admin, rooms|connections, id, verb
    if (parts.size() == 4 && parts[1] == u"rooms"_s && parts[3] == u"close"_s) {
        const auto req = adminapi::CloseRoomRequest::fromJson(*body);
        if (!req)
            return badBody();
        const auto result = m_admin.closeRoom(parts[2], *req, actor);
        return HttpResponse::json(result.ok ? 200 : 404, toJson(result.toJson()));
    }
    if (parts.size() == 4 && parts[1] == u"rooms"_s && parts[3] == u"end"_s) {
        const auto req = adminapi::CloseRoomRequest::fromJson(*body);
        if (!req)
            return badBody();
        const auto result = m_admin.endConsultation(parts[2], *req, actor);
        return HttpResponse::json(result.ok ? 200 : 404, toJson(result.toJson()));
    }
    if (parts.size() == 4 && parts[1] == u"connections"_s && parts[3] == u"disconnect"_s) {
        const auto req = adminapi::DisconnectRequest::fromJson(*body);
        if (!req)
            return badBody();
        const auto result = m_admin.disconnect(parts[2], *req, actor);
        return HttpResponse::json(result.ok ? 200 : 404, toJson(result.toJson()));
    }
    return HttpResponse::error(404, u"not_found"_s, u"no such admin endpoint"_s);
}

} // namespace medrelay::server
