#pragma once
// Accepts TCP (or TLS) connections on the one port, sets TCP_NODELAY, reads
// each request head within size and time limits, and hands it on: WebSocket
// upgrades on the WebSocket path to the UpgradeHandler, everything else to
// the HttpRequestHandler. A socket never reaches either before its head is
// complete, so a slow or oversized request costs the server nothing else.

#include "config/ServerConfig.h"
#include "http/HttpRequestParser.h"
#include "net/ClientAddress.h"
#include "metrics/Metrics.h"
#include "net/PendingPool.h"
#include "net/RequestHandlers.h"

#include <QSslConfiguration>
#include <QTcpServer>

#include <memory>

namespace medrelay::server {

class Listener final : public QTcpServer
{
    Q_OBJECT
public:
    Listener(const ServerConfig &config, HttpRequestHandler &http, UpgradeHandler &upgrades, Metrics &metrics,
             QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(Listener)

    // Loads the TLS certificate and key; returns an error text or empty.
    [[nodiscard]] QString enableTls(const QString &certFile, const QString &keyFile);
    [[nodiscard]] bool tlsEnabled() const { return m_tls; }

protected:
    void incomingConnection(qintptr descriptor) override;

    [[nodiscard]] const PendingPool &pendingPool() const { return m_pool; }

private:
    void readHead(QTcpSocket *socket, class PendingTcp &pending);
    void countEvictions(qint64 before);
    void dispatch(QTcpSocket *socket, class PendingTcp &pending, const HttpRequest &request);
    // `pending` is null once the socket left the pending pool.
    void respond(QTcpSocket *socket, class PendingTcp *pending, const HttpResponse &response);
    void finishPending(class PendingTcp *pending);

    const ServerConfig &m_config;
    HttpRequestHandler &m_http;
    UpgradeHandler &m_upgrades;
    Metrics &m_metrics;
    HttpParseLimits m_limits;
    TrustedProxies m_proxies;
    PendingPool m_pool;
    // Only made when TLS is on: constructing one loads Qt's TLS backend
    // (OpenSSL), about 4 MB of resident memory a plain server does not need.
    std::unique_ptr<QSslConfiguration> m_sslConfig;
    bool m_tls = false;
};

} // namespace medrelay::server
