#include "TestServer.h"

namespace medrelay::test {

using namespace Qt::StringLiterals;

server::ServerConfig testConfig()
{
    server::ServerConfig c = server::defaultConfig(server::Mode::Development);
    c.host = u"127.0.0.1"_s;
    c.port = 0;
    c.dataDir.clear();
    // The suite runs once per transport (see tests/integration/CMakeLists.txt).
    if (qEnvironmentVariable("MEDRELAY_TEST_TRANSPORT") == u"qt"_s)
        c.transport = server::Transport::Qt;
    c.ioThreads = qEnvironmentVariableIntValue("MEDRELAY_TEST_IO_THREADS");
    return c;
}

TestServer::TestServer(const std::function<void(server::ServerConfig &)> &tweak)
{
    server::ServerConfig c = testConfig();
    if (tweak)
        tweak(c);
    m_app = std::make_unique<server::ServerApp>(c);
    m_error = m_app->start();
}

TestServer::~TestServer() = default;

QUrl TestServer::wsUrl(const QString &query) const
{
    QUrl url(u"ws://127.0.0.1:%1/ws"_s.arg(port()));
    if (!query.isEmpty())
        url.setQuery(query);
    return url;
}

} // namespace medrelay::test
