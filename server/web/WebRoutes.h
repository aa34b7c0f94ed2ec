#pragma once
// The HTTP routes outside the admin API: the development token endpoint and
// the web root's static files. The router asks it only for paths it does not
// own itself (/health, /stats, /metrics, /admin/*, /ws), so nothing here can
// shadow those.

#include "http/HttpRouter.h"
#include "web/DevTokens.h"
#include "web/StaticFiles.h"

#include <memory>

namespace medrelay::server {
struct ServerConfig;
}

namespace medrelay::server::web {

class WebRoutes final : public ExtraRoutes
{
public:
    explicit WebRoutes(const ServerConfig &config);
    Q_DISABLE_COPY_MOVE(WebRoutes)

    std::optional<HttpResponse> route(const HttpRequest &request) override;

    // Empty when no web root is served.
    [[nodiscard]] QString webRoot() const { return m_files ? m_files->root() : QString(); }
    [[nodiscard]] bool devTokensEnabled() const { return m_tokens.enabled(); }

private:
    DevTokens m_tokens;
    std::unique_ptr<StaticFiles> m_files;
};

// The demo page's address as a person on this machine opens it, e.g.
// http://localhost:9003/ (https with TLS).
[[nodiscard]] QString demoPageUrl(const ServerConfig &config, quint16 port);

} // namespace medrelay::server::web
