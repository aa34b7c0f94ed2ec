#pragma once
// GET /dev/token?user=ID&role=ROLE&room=ROOM[&name=NAME]: a signed client
// token for the demo page, in development only. It exists only when the
// server runs in development mode with an HS256 secret (--jwt-secret);
// otherwise the path is not there (404), and production never has it. The
// token grants the one room asked for and lives one hour. A request from a
// web page of another origin is refused (403), so a page on the Internet
// cannot mint tokens through a developer's browser.

#include "consultation/AccessPolicy.h"
#include "http/HttpRequest.h"

#include <QStringList>

#include <optional>

namespace medrelay::server {
struct ServerConfig;
}

namespace medrelay::server::web {

class DevTokens final
{
public:
    static constexpr QLatin1StringView kPath{"/dev/token"};

    explicit DevTokens(const ServerConfig &config);

    [[nodiscard]] bool enabled() const { return !m_secret.isEmpty(); }
    // The answer for /dev/token, or nullopt for any other path or when the
    // endpoint is off.
    [[nodiscard]] std::optional<HttpResponse> handle(const HttpRequest &request) const;

private:
    QByteArray m_secret;
    QString m_issuer;
    QString m_audience;
    QStringList m_roles;
    AccessPolicy m_access;
};

} // namespace medrelay::server::web
