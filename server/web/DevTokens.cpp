#include "web/DevTokens.h"

#include "config/ServerConfig.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QUrl>
#include <QUrlQuery>

#include <jwt.h>

#include <cstdlib>

namespace medrelay::server::web {

using namespace Qt::StringLiterals;

namespace {

constexpr qint64 kLifetimeSeconds = 3600;

bool idText(const QString &s, qsizetype maxLength)
{
    if (s.isEmpty() || s.size() > maxLength)
        return false;
    return std::all_of(s.cbegin(), s.cend(), [](QChar c) {
        const char16_t u = c.unicode();
        return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9') || u == u'_'
               || u == u'.' || u == u':' || u == u'@' || u == u'-';
    });
}

// A query value as browsers send forms (URLSearchParams): '+' is a space.
QString formValue(const QUrlQuery &query, const QString &key)
{
    QByteArray raw = query.queryItemValue(key, QUrl::FullyEncoded).toUtf8();
    raw.replace('+', "%20");
    return QUrl::fromPercentEncoding(raw);
}

AccessRules rulesOf(const ServerConfig &c)
{
    AccessRules r;
    r.authEnabled = true;
    r.appointmentRoomPattern = c.appointmentRoomPattern;
    r.hostRoles = c.hostRoles;
    return r;
}

QByteArray sign(const QByteArray &secret, const QJsonObject &claims)
{
    jwt_t *jwt = nullptr;
    if (jwt_new(&jwt) != 0)
        return {};
    QByteArray out;
    const QByteArray json = QJsonDocument(claims).toJson(QJsonDocument::Compact);
    if (jwt_add_grants_json(jwt, json.constData()) == 0
        && jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char *>(secret.constData()),
                       static_cast<int>(secret.size()))
               == 0) {
        if (char *encoded = jwt_encode_str(jwt)) {
            out = encoded;
            std::free(encoded);
        }
    }
    jwt_free(jwt);
    return out;
}

} // namespace

DevTokens::DevTokens(const ServerConfig &config)
    : m_issuer(config.jwtIssuer)
    , m_audience(config.jwtAudience)
    , m_access(rulesOf(config))
{
    if (config.mode == Mode::Development && !config.jwtSecret.isEmpty())
        m_secret = config.jwtSecret.toUtf8();
    m_roles = QStringList{u"patient"_s, u"caregiver"_s, u"observer"_s, u"clinician"_s, u"doctor"_s, u"nurse"_s}
              + config.hostRoles;
}

std::optional<HttpResponse> DevTokens::handle(const HttpRequest &request) const
{
    if (!enabled() || request.path != kPath)
        return std::nullopt;
    if (request.method != "GET")
        return HttpResponse::error(405, u"method_not_allowed"_s, u"use GET"_s);
    // Browsers name the page that asks; only this server's own pages may.
    const QByteArray origin = request.header("origin");
    if (!origin.isEmpty()) {
        const QUrl url(QString::fromUtf8(origin));
        const QString host = QString::fromUtf8(request.header("host"));
        if (!url.isValid() || url.authority() != host)
            return HttpResponse::error(403, u"forbidden"_s, u"origin not allowed"_s);
    }
    const QString user = formValue(request.query, u"user"_s);
    const QString role = formValue(request.query, u"role"_s);
    const QString room = formValue(request.query, u"room"_s);
    const QString name = formValue(request.query, u"name"_s);
    if (!idText(user, 128))
        return HttpResponse::error(400, u"invalid_field"_s, u"user must be 1-128 characters of A-Z a-z 0-9 _ . : @ -"_s);
    if (!idText(room, 128))
        return HttpResponse::error(400, u"invalid_field"_s, u"room must be 1-128 characters of A-Z a-z 0-9 _ . : @ -"_s);
    if (!m_roles.contains(role))
        return HttpResponse::error(400, u"invalid_field"_s, u"role must be one of "_s + m_roles.join(u", "_s));
    if (name.size() > 128)
        return HttpResponse::error(400, u"invalid_field"_s, u"name must be at most 128 characters"_s);

    const qint64 now = QDateTime::currentSecsSinceEpoch();
    QJsonObject claims{{u"sub"_s, user},
                       {u"name"_s, name.isEmpty() ? user : name},
                       {u"role"_s, role},
                       {u"rooms"_s, QJsonArray{room}},
                       {u"iat"_s, static_cast<double>(now)},
                       {u"exp"_s, static_cast<double>(now + kLifetimeSeconds)}};
    if (!m_issuer.isEmpty())
        claims.insert(u"iss"_s, m_issuer);
    if (!m_audience.isEmpty())
        claims.insert(u"aud"_s, m_audience);
    const QByteArray token = sign(m_secret, claims);
    if (token.isEmpty())
        return HttpResponse::error(500, u"internal_error"_s, u"could not sign a token"_s);
    QJsonObject body{{u"token"_s, QString::fromLatin1(token)},
                     {u"userId"_s, user},
                     {u"role"_s, role},
                     {u"roomId"_s, room},
                     {u"expiresAt"_s, static_cast<double>((now + kLifetimeSeconds) * 1000)}};
    if (const auto appointment = m_access.appointmentOf(room))
        body.insert(u"appointmentId"_s, static_cast<double>(*appointment));
    return HttpResponse::json(200, QJsonDocument(body).toJson(QJsonDocument::Compact));
}

} // namespace medrelay::server::web
