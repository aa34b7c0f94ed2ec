// HTTP keep-alive over raw sockets: a connection carries several requests,
// answered one at a time and in order (pipelined ones too); HTTP/1.0 and
// "Connection: close" still close; an idle kept connection closes when its
// time is up, and while it waits it holds a place in the pending pool like
// any socket that owes a request head, so idle connections cannot crowd
// others out. Every wait is for an answer or a close; timeouts only guard.

#include "RawHttp.h"
#include "TestServer.h"

#include "net/Listener.h"

#include <QSslSocket>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kToken = "keepalive-admin-token-0123456789";

QByteArray get(const QByteArray &path, const QByteArray &extra = {})
{
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken + "\r\n" + extra + "\r\n";
}

QByteArray header(const HttpResult &r, const QByteArray &name)
{
    for (const QByteArray &line : r.headers.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name)
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

// A connection to the test server from `source` (another loopback address
// counts as another client for the pending pool).
std::unique_ptr<QTcpSocket> connectFrom(quint16 port, const QHostAddress &source)
{
    std::unique_ptr<QTcpSocket> s;
    if (testTls()) {
        auto ssl = std::make_unique<QSslSocket>();
        ssl->setSslConfiguration(trustingTestCertificate());
        s = std::move(ssl);
    } else {
        s = std::make_unique<QTcpSocket>();
    }
    if (!s->bind(source))
        return nullptr;
    if (auto *ssl = qobject_cast<QSslSocket *>(s.get())) {
        ssl->connectToHostEncrypted(u"127.0.0.1"_s, port);
        if (!QTest::qWaitFor([&] { return ssl->isEncrypted() || ssl->state() == QAbstractSocket::UnconnectedState; },
                             5000)
            || !ssl->isEncrypted())
            return nullptr;
        return s;
    }
    s->connectToHost(u"127.0.0.1"_s, port);
    if (!QTest::qWaitFor([&] { return s->state() == QAbstractSocket::ConnectedState; }, 5000))
        return nullptr;
    return s;
}

bool waitClosed(QTcpSocket &s, int timeoutMs = 15000)
{
    return QTest::qWaitFor(
        [&] {
            s.readAll();
            return s.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
}

} // namespace

class TestKeepAlive final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void twoRequestsOnOneConnection();
    void closeWhenTheClientAsks_data();
    void closeWhenTheClientAsks();
    void pipelinedRequestsAreAnsweredInOrder();
    void headAnswersWithoutABody();
    void malformedRequestCloses();
    void boundedRequestsPerConnection();
    void idleConnectionClosesAfterTheRequestTimeout();
    void idleConnectionsHoldPlacesInThePendingPool();
    void upgradeAfterAnAnswerOnTheSameConnection();
};

void TestKeepAlive::twoRequestsOnOneConnection()
{
    TestServer server([](ServerConfig &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;

    socket->write(get("/health"));
    const HttpResult health = readHttpResponse(*socket, buffer);
    QCOMPARE(health.status, 200);
    QCOMPARE(header(health, "connection"), QByteArray("keep-alive"));
    QCOMPARE(header(health, "keep-alive"), "timeout=" + QByteArray::number(server.app().config().requestTimeoutMs / 1000)
                                               + ", max=" + QByteArray::number(Listener::kMaxRequestsPerConnection - 1));
    QVERIFY(health.json().contains("uptime"_L1));

    // The same connection, the next request: the admin API behind its token.
    QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);
    socket->write(get("/stats"));
    const HttpResult stats = readHttpResponse(*socket, buffer);
    QCOMPARE(stats.status, 200);
    QVERIFY(stats.json().contains("roomDetails"_L1));
    QCOMPARE(stats.json().value("maxConnections"_L1).toInt(), server.app().config().maxConnections);
    QCOMPARE(header(stats, "keep-alive"), "timeout=" + QByteArray::number(server.app().config().requestTimeoutMs / 1000)
                                              + ", max=" + QByteArray::number(Listener::kMaxRequestsPerConnection - 2));

    // A refusal that keeps the framing intact keeps the connection too.
    socket->write("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const HttpResult refused = readHttpResponse(*socket, buffer);
    QCOMPARE(refused.status, 401);
    QCOMPARE(header(refused, "connection"), QByteArray("keep-alive"));
    socket->write(get("/no/such/path"));
    QCOMPARE(readHttpResponse(*socket, buffer).status, 404);
    QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);
    QVERIFY(buffer.isEmpty());
}

void TestKeepAlive::closeWhenTheClientAsks_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<bool>("kept");
    QTest::addRow("HTTP/1.1") << QByteArray("GET /health HTTP/1.1\r\nHost: h\r\n\r\n") << true;
    QTest::addRow("HTTP/1.1, Connection: close")
        << QByteArray("GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") << false;
    QTest::addRow("HTTP/1.0") << QByteArray("GET /health HTTP/1.0\r\n\r\n") << false;
    QTest::addRow("HTTP/1.0, Connection: keep-alive")
        << QByteArray("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") << true;
}

void TestKeepAlive::closeWhenTheClientAsks()
{
    QFETCH(QByteArray, request);
    QFETCH(bool, kept);
    TestServer server;
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;
    socket->write(request);
    const HttpResult r = readHttpResponse(*socket, buffer);
    QCOMPARE(r.status, 200);
    QCOMPARE(header(r, "connection"), kept ? QByteArray("keep-alive") : QByteArray("close"));
    if (kept) {
        socket->write(request);
        QCOMPARE(readHttpResponse(*socket, buffer).status, 200);
    } else {
        QVERIFY(waitClosed(*socket));
        QVERIFY(buffer.isEmpty());
    }
}

void TestKeepAlive::pipelinedRequestsAreAnsweredInOrder()
{
    TestServer server([](ServerConfig &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    // Three requests in one write, the last with a body; the answers come
    // back one after another, in the order asked.
    const QByteArray body = R"({"idleSeconds":3600,"dryRun":true})";
    socket->write(get("/health") + get("/no/such/path")
                  + "POST /admin/rooms/close-idle HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + kToken
                  + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size())
                  + "\r\n\r\n" + body + get("/stats"));
    QByteArray buffer;
    const HttpResult first = readHttpResponse(*socket, buffer);
    QCOMPARE(first.status, 200);
    QVERIFY(first.json().contains("uptime"_L1));
    const HttpResult second = readHttpResponse(*socket, buffer);
    QCOMPARE(second.status, 404);
    const HttpResult third = readHttpResponse(*socket, buffer);
    QCOMPARE(third.status, 200);
    QCOMPARE(third.json().value("action"_L1).toString(), u"close_idle_rooms_dry_run"_s);
    const HttpResult fourth = readHttpResponse(*socket, buffer);
    QCOMPARE(fourth.status, 200);
    QVERIFY(fourth.json().contains("roomDetails"_L1));
    QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);
}

void TestKeepAlive::headAnswersWithoutABody()
{
    TestServer server;
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    // Were HEAD's body sent, it would be read as the start of the GET's answer.
    socket->write("HEAD /health HTTP/1.1\r\nHost: h\r\n\r\nGET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QByteArray buffer;
    QVERIFY(QTest::qWaitFor(
        [&] {
            buffer += socket->readAll();
            return buffer.count("HTTP/1.1 200") == 2 && buffer.endsWith('}');
        },
        5000));
    const qsizetype second = buffer.indexOf("HTTP/1.1 200", 1);
    const QByteArray head = buffer.left(second);
    QVERIFY2(head.endsWith("\r\n\r\n"), head.constData()); // headers only
    QVERIFY(head.contains("Content-Length: "));
    QByteArray rest = buffer.mid(second);
    const HttpResult get = readHttpResponse(*socket, rest);
    QCOMPARE(get.status, 200);
    QVERIFY(get.json().contains("uptime"_L1));
}

void TestKeepAlive::malformedRequestCloses()
{
    TestServer server;
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;
    socket->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QCOMPARE(readHttpResponse(*socket, buffer).status, 200);
    // Once the framing is in doubt, nothing after it can be trusted: the
    // answer says so and the connection closes.
    socket->write("GET /health HTTP/1.1\r\nBad Header Line\r\n\r\nGET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    const HttpResult bad = readHttpResponse(*socket, buffer);
    QCOMPARE(bad.status, 400);
    QCOMPARE(header(bad, "connection"), QByteArray("close"));
    QVERIFY(waitClosed(*socket));
    QVERIFY(!buffer.contains("HTTP/1.1 200"));
}

void TestKeepAlive::boundedRequestsPerConnection()
{
    TestServer server;
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;
    for (int i = 1; i <= Listener::kMaxRequestsPerConnection; ++i) {
        socket->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        const HttpResult r = readHttpResponse(*socket, buffer);
        QCOMPARE(r.status, 200);
        const bool last = i == Listener::kMaxRequestsPerConnection;
        QCOMPARE(header(r, "connection"), last ? QByteArray("close") : QByteArray("keep-alive"));
    }
    QVERIFY(waitClosed(*socket));
}

void TestKeepAlive::idleConnectionClosesAfterTheRequestTimeout()
{
    TestServer server([](ServerConfig &c) { c.requestTimeoutMs = 1000; });
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;
    socket->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    const HttpResult r = readHttpResponse(*socket, buffer);
    QCOMPARE(r.status, 200);
    QCOMPARE(header(r, "keep-alive"), QByteArray("timeout=1, max=99"));
    const Listener &listener = server.app().listener();
    QTRY_COMPARE(listener.pendingPool().size(), 1); // waiting for its next head
    const qint64 timeoutsBefore = server.app().metrics().rejections(Rejection::RequestTimeout);

    // Nothing more is sent: the server closes it, quietly (no 408 on an
    // idle kept connection: a client may just be about to reuse it).
    QVERIFY(waitClosed(*socket));
    QVERIFY(buffer.isEmpty());
    QTRY_COMPARE(listener.pendingPool().size(), 0);
    QCOMPARE(server.app().metrics().rejections(Rejection::RequestTimeout), timeoutsBefore);

    // A request begun but not finished on a kept connection still gets a 408.
    auto slow = connectToServer(server.port());
    QVERIFY(slow);
    QByteArray slowBuffer;
    slow->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QCOMPARE(readHttpResponse(*slow, slowBuffer).status, 200);
    slow->write("GET /health HTTP/1.1\r\nHost:");
    QCOMPARE(readHttpResponse(*slow, slowBuffer, 15000).status, 408);
    QVERIFY(waitClosed(*slow));
}

void TestKeepAlive::idleConnectionsHoldPlacesInThePendingPool()
{
    // Three places, two per address.
    TestServer server([](ServerConfig &c) {
        c.maxPendingRequests = 3;
        c.maxPendingPerAddress = 2;
    });
    QVERIFY(server.started());
    const Listener &listener = server.app().listener();
    const QHostAddress a(u"127.0.0.1"_s);
    const QHostAddress b(u"127.0.0.2"_s);
    const QHostAddress c(u"127.0.0.3"_s);

    // Kept connections waiting for their next request count: two from a,
    // one from b fill the pool.
    std::vector<std::unique_ptr<QTcpSocket>> kept;
    for (const QHostAddress &from : {a, a, b}) {
        auto s = connectFrom(server.port(), from);
        QVERIFY(s);
        QByteArray buffer;
        s->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
        QCOMPARE(readHttpResponse(*s, buffer).status, 200);
        kept.push_back(std::move(s));
    }
    QTRY_COMPARE(listener.pendingPool().size(), 3);
    QCOMPARE(listener.pendingPool().pendingFrom(a), 2);

    // A third connection from a: over its own share, its oldest kept one goes.
    auto third = connectFrom(server.port(), a);
    QVERIFY(third);
    QVERIFY(waitClosed(*kept.at(0)));
    QByteArray thirdBuffer;
    third->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QCOMPARE(readHttpResponse(*third, thirdBuffer).status, 200);

    // A newcomer from c finds the pool full of idle kept connections: it gets
    // a place (the address holding the most gives up its oldest) and its answer.
    QTRY_COMPARE(listener.pendingPool().size(), 3);
    auto newcomer = connectFrom(server.port(), c);
    QVERIFY(newcomer);
    QByteArray buffer;
    newcomer->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QCOMPARE(readHttpResponse(*newcomer, buffer).status, 200);
    QVERIFY(waitClosed(*kept.at(1)));
    QCOMPARE(kept.at(2)->state(), QAbstractSocket::ConnectedState); // b's only one stays
    QVERIFY(server.app().metrics().rejections(Rejection::PendingEvicted) >= 2);
}

void TestKeepAlive::upgradeAfterAnAnswerOnTheSameConnection()
{
    TestServer server;
    QVERIFY(server.started());
    auto socket = connectToServer(server.port());
    QVERIFY(socket);
    QByteArray buffer;
    socket->write("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    QCOMPARE(readHttpResponse(*socket, buffer).status, 200);
    // The same connection becomes a WebSocket.
    socket->write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QVERIFY(QTest::qWaitFor(
        [&] {
            buffer += socket->readAll();
            return buffer.contains("\r\n\r\n");
        },
        5000));
    QVERIFY2(buffer.startsWith("HTTP/1.1 101"), buffer.constData());
    QTRY_COMPARE(server.app().connections().count(), 1);
}

QTEST_MAIN(TestKeepAlive)
#include "tst_keepalive.moc"
