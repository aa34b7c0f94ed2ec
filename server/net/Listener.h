#pragma once
// Accepts TCP (or TLS) connections on the one port, reads each request head
// within size and time limits, and hands it on: WebSocket upgrades on the
// WebSocket path to the UpgradeHandler, everything else to the
// HttpRequestHandler. A socket never reaches either before its head is
// complete, so a slow or oversized request costs the server nothing else;
// until then it holds a place in the PendingPool, shared fairly by address.
//
// An HTTP answer keeps the connection for the client's next request when the
// client wants that (HTTP/1.1, or HTTP/1.0 with "Connection: keep-alive"),
// up to kMaxRequestsPerConnection requests; waiting for the next head it is
// back in the PendingPool, under the same --request-timeout, so idle kept
// connections compete for places like any other socket that owes a head.
// Requests sent ahead (pipelined) are answered one at a time, in order.
//
// Two ways to carry a socket until then, by --transport:
//  - epoll (the lean path): the raw fd, read by this thread's EpollPoller
//    (RawRequest), with TLS done by OpenSSL on the same fd (TlsContext);
//    an upgrade leaves as a transport::Stream;
//  - qt: QTcpSocket, or QSslSocket for TLS, with the head peeked so that
//    QWebSocketServer can read it again.

#include "config/ServerConfig.h"
#include "http/HttpRequestParser.h"
#include "metrics/Metrics.h"
#include "net/ClientAddress.h"
#include "net/PendingPool.h"
#include "net/RawRequest.h"
#include "net/RequestHandlers.h"

#include <QSslConfiguration>
#include <QTcpServer>

#include <memory>
#include <variant>

namespace medrelay::transport {
class EpollPoller;
class TlsContext;
}

namespace medrelay::server {

class PendingTcp;

class Listener final : public QTcpServer, private RawRequest::Client
{
    Q_OBJECT
public:
    Listener(const ServerConfig &config, HttpRequestHandler &http, UpgradeHandler &upgrades, Metrics &metrics,
             QObject *parent = nullptr);
    ~Listener() override;
    Q_DISABLE_COPY_MOVE(Listener)

    // Loads the TLS certificate and key; returns an error text or empty.
    // Called again (SIGHUP), it replaces them for new connections only, and
    // on failure keeps the ones in use.
    [[nodiscard]] QString enableTls(const QString &certFile, const QString &keyFile);
    [[nodiscard]] bool tlsEnabled() const { return m_tls; }
    // True when sockets are carried by the lean (epoll) path.
    [[nodiscard]] bool isLean() const { return m_poller != nullptr; }
    // The lean path's TLS configuration (null when plain or Qt).
    [[nodiscard]] std::shared_ptr<transport::TlsContext> tlsContext() const { return m_tlsContext; }

    [[nodiscard]] const PendingPool &pendingPool() const { return m_pool; }

    // Requests one connection may carry; the last answer says "Connection: close".
    static constexpr int kMaxRequestsPerConnection = 100;

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    // What the bytes of a pending request amount to so far.
    struct NeedMore
    {
    };
    using Examined = std::variant<NeedMore, HttpRequest, HttpResponse>;
    [[nodiscard]] Examined examine(QByteArrayView data, int &headLength, const QHostAddress &peer);
    [[nodiscard]] std::optional<HttpResponse> checkUpgrade(const HttpRequest &request);
    // `countRefusal`: a refused newcomer is a rejection; a kept connection
    // that finds no place is only closed.
    [[nodiscard]] bool admit(PendingPool::Entry &entry, const QHostAddress &peer, bool countRefusal = true);
    // Whether the connection stays after answering `request` (its `served`-th
    // but one), marked on `response`.
    void settle(HttpResponse &response, const HttpRequest &request, int served) const;

    // Lean path.
    void acceptRaw(int fd);
    void requestData(RawRequest &request) override;
    void requestTimedOut(RawRequest &request) override;
    bool requestIdle(RawRequest &request) override;

    // Qt path.
    void acceptQt(qintptr descriptor);
    void readHead(QTcpSocket *socket, PendingTcp &pending);
    // `pending` is null once the socket left the pending pool.
    void respond(QTcpSocket *socket, PendingTcp *pending, const HttpResponse &response);
    // Answers and keeps the connection: the next head is read once this
    // answer is written.
    void respondAndKeep(QTcpSocket *socket, PendingTcp &pending, const HttpResponse &response);
    void answerWritten(QTcpSocket *socket, PendingTcp &pending);
    void closeQuietly(QTcpSocket *socket, PendingTcp &pending);
    void finishPending(PendingTcp *pending);

    const ServerConfig &m_config;
    HttpRequestHandler &m_http;
    UpgradeHandler &m_upgrades;
    Metrics &m_metrics;
    HttpParseLimits m_limits;
    TrustedProxies m_proxies;
    PendingPool m_pool;
    transport::EpollPoller *m_poller = nullptr; // the lean path's; null for --transport qt
    std::shared_ptr<transport::TlsContext> m_tlsContext;
    // Qt path only. Made only when TLS is on: constructing one loads Qt's
    // TLS backend (OpenSSL), about 4 MB of resident memory a plain server
    // does not need.
    std::unique_ptr<QSslConfiguration> m_sslConfig;
    bool m_tls = false;
};

} // namespace medrelay::server
