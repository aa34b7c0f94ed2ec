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

#include <QSslConfiguration>
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
    // ws:// or, when the suite runs over TLS, wss://.
    [[nodiscard]] QUrl wsUrl(const QString &query = {}) const;
    [[nodiscard]] server::ServerApp &app() const { return *m_app; }

private:
    std::unique_ptr<server::ServerApp> m_app;
    QString m_error;
};

// Test-friendly defaults: loopback, port 0, development mode. The suite runs
// again over other transports: MEDRELAY_TEST_TRANSPORT=qt (QWebSocket),
// MEDRELAY_TEST_IO_THREADS=N, and MEDRELAY_TEST_TLS=1 (wss:// and https://
// with a self-signed certificate made for the test run).
[[nodiscard]] server::ServerConfig testConfig();

// Whether this run speaks TLS to the server (MEDRELAY_TEST_TLS=1).
[[nodiscard]] bool testTls();
// The test run's self-signed certificate and key (for 127.0.0.1), made on
// first use; and a client configuration that trusts it.
[[nodiscard]] QString testCertificateFile();
[[nodiscard]] QString testKeyFile();
[[nodiscard]] QSslConfiguration trustingTestCertificate();

} // namespace medrelay::test
