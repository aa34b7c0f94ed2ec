#pragma once
// Maps HTTP requests onto the AdminService: /health, /stats, /metrics and the
// /admin/* actions. Refuses admin requests from web origins not allowed for
// the admin API (403) and checks the admin bearer token where one is
// configured (401); admin actions take JSON only (415). Everything else
// answers a JSON 404.

#include "net/RequestHandlers.h"

#include <QObject>

#include <optional>

namespace medrelay::server {

class AdminService;
struct ServerConfig;

// Routes that live outside the admin API (the web root, the development
// token endpoint). The router asks them only about paths it does not own;
// nullopt means "not mine" and the router answers 404.
class ExtraRoutes
{
public:
    virtual ~ExtraRoutes() = default;
    [[nodiscard]] virtual std::optional<HttpResponse> route(const HttpRequest &request) = 0;

protected:
    ExtraRoutes() = default;
};

class HttpRouter final : public QObject, public HttpRequestHandler
{
    Q_OBJECT
public:
    HttpRouter(const ServerConfig &config, AdminService &admin, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(HttpRouter)

    HttpResponse handle(const HttpRequest &request) override;
    // The admin API's access rules (Origin, then the bearer token): the
    // refusal to send, or std::nullopt. Refusals are counted for the audit.
    [[nodiscard]] std::optional<HttpResponse> checkAdmin(const HttpRequest &request);
    // Asked for any path the router does not own (not owned; may be null).
    void setExtraRoutes(ExtraRoutes *routes) { m_extra = routes; }

Q_SIGNALS:
    // An admin request refused: `reason` is "origin_forbidden" or
    // "unauthorized". Nothing of the request itself is passed on.
    void adminRequestRefused(const QHostAddress &peer, const QString &reason);

private:
    [[nodiscard]] bool originAllowed(const HttpRequest &request) const;
    [[nodiscard]] bool authorised(const HttpRequest &request) const;
    HttpResponse routeAdmin(const HttpRequest &request);

    const ServerConfig &m_config;
    AdminService &m_admin;
    ExtraRoutes *m_extra = nullptr;
};

} // namespace medrelay::server
