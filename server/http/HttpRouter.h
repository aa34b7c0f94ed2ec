#pragma once
// Maps HTTP requests onto the AdminService: /health, /stats, /metrics and the
// /admin/* actions. Checks the admin bearer token where one is configured.
// Everything else answers a JSON 404.

#include "net/RequestHandlers.h"

#include <QObject>

namespace medrelay::server {

class AdminService;
struct ServerConfig;

class HttpRouter final : public QObject, public HttpRequestHandler
{
    Q_OBJECT
public:
    HttpRouter(const ServerConfig &config, AdminService &admin, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(HttpRouter)

    HttpResponse handle(const HttpRequest &request) override;

Q_SIGNALS:
    void unauthorizedRequest(const QString &path, const QHostAddress &peer);

private:
    [[nodiscard]] bool authorised(const HttpRequest &request) const;
    HttpResponse routeAdmin(const HttpRequest &request);

    const ServerConfig &m_config;
    AdminService &m_admin;
};

} // namespace medrelay::server
