#pragma once
// A real medrelay server inside the test process, on 127.0.0.1 and an
// ephemeral port, with test-friendly defaults that each test may override.

#include "admin/AdminService.h"
#include "app/ServerApp.h"
#include "consultation/IdleSweeper.h"
#include "metrics/Metrics.h"
#include "realtime/ConnectionManager.h"
#include "consultation/RoomService.h"
#include "config/ServerConfig.h"

#include <QUrl>

#include <functional>
#include <memory>

namespace medrelay::test {

class TestServer final
{
public:
    explicit TestServer(const std::function<void(server::ServerConfig &)> &tweak = {});
    ~TestServer();
    Q_DISABLE_COPY_MOVE(TestServer)

    [[nodiscard]] bool started() const { return m_error.isEmpty(); }
    [[nodiscard]] const QString &error() const { return m_error; }
    [[nodiscard]] quint16 port() const { return m_app->port(); }
    [[nodiscard]] QUrl wsUrl(const QString &query = {}) const;
    [[nodiscard]] server::ServerApp &app() const { return *m_app; }

private:
    std::unique_ptr<server::ServerApp> m_app;
    QString m_error;
};

// Test-friendly defaults: loopback, port 0, development mode.
[[nodiscard]] server::ServerConfig testConfig();

} // namespace medrelay::test
