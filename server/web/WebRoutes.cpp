#include "web/WebRoutes.h"

#include "config/ServerConfig.h"

#include <QHostAddress>

namespace medrelay::server::web {

using namespace Qt::StringLiterals;

WebRoutes::WebRoutes(const ServerConfig &config)
    : m_tokens(config)
{
    if (!config.webRoot.isEmpty())
        m_files = std::make_unique<StaticFiles>(config.webRoot, config.maxStaticFileBytes);
}

std::optional<HttpResponse> WebRoutes::route(const HttpRequest &request)
{
    if (auto r = m_tokens.handle(request))
        return r;
    if (m_files)
        return m_files->serve(request);
    return std::nullopt;
}

QString demoPageUrl(const ServerConfig &config, quint16 port)
{
    QString host = config.host;
    const QHostAddress address(host);
    // A wildcard address is reachable on this machine as localhost, which
    // browsers also treat as a secure context (camera access over http).
    if (host == u"localhost"_s || address == QHostAddress::AnyIPv4 || address == QHostAddress::AnyIPv6
        || address == QHostAddress::Any)
        host = u"localhost"_s;
    else if (address.protocol() == QAbstractSocket::IPv6Protocol)
        host = u'[' + host + u']';
    return u"%1://%2:%3/"_s.arg(config.tlsEnabled() ? u"https"_s : u"http"_s, host).arg(port);
}

} // namespace medrelay::server::web
