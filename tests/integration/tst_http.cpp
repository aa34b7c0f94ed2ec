// The HTTP side of the one port: health, stats, metrics, the admin API and
// its token, 404s, and request limits.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include <QFile>
#include <QJsonArray>
#include <QTest>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {
const QByteArray kToken = "test-admin-token-0123456789";

// This process's resident memory in bytes, as the kernel reports it.
qint64 vmRssBytes()
{
    QFile f(u"/proc/self/status"_s);
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').constFirst().toLongLong() * 1024; // always in kB
    }
    return 0;
}
}

class TestHttp final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void healthHasOriginalFields();
    void healthHidesRoomsInProduction();
    void statsCountsTraffic();
    void metricsIsPrometheusText();
    void unknownPathsAre404_data();
    void unknownPathsAre404();
    void adminEndpointsNeedToken_data();
    void adminEndpointsNeedToken();
    void adminRefusesCrossSiteRequests();
    void closeRoomNotifiesMembers();
    void closeIdleRoomsClosesOnlyIdle();
    void disconnectClosesOneConnection();
    void eventsArePaged();
    void requestLimits();
    void slowRequestTimesOut();
};

void TestHttp::healthHasOriginalFields()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"appointment_123"_s, 123, 1, u"A"_s);
    b.join(u"appointment_123"_s, 123, 2, u"B"_s);

    const auto r = httpGet(server.port(), "/health");
    QCOMPARE(r.status, 200);
    QVERIFY(r.headers.contains("Content-Type: application/json"));
    const QJsonObject h = r.json();
    QCOMPARE(h.value("status"_L1).toString(), u"healthy"_s);
    QVERIFY(QDateTime::fromString(h.value("timestamp"_L1).toString(), Qt::ISODateWithMs).isValid());
    QVERIFY(h.value("uptime"_L1).isDouble());
    QCOMPARE(h.value("connections"_L1).toInt(), 2);
    QCOMPARE(h.value("rooms"_L1).toInt(), 1);
    const QJsonObject room = h.value("roomDetails"_L1).toArray().at(0).toObject();
    QCOMPARE(room.value("id"_L1).toString(), u"appointment_123"_s);
    QCOMPARE(room.value("connectionCount"_L1).toInt(), 2);
    QCOMPARE(room.value("appointmentId"_L1).toInt(), 123);
    QVERIFY(QDateTime::fromString(room.value("lastActivity"_L1).toString(), Qt::ISODateWithMs).isValid());
}

void TestHttp::healthHidesRoomsInProduction()
{
    TestServer server([](auto &c) {
        c.mode = medrelay::server::Mode::Production;
        c.adminToken = QString::fromLatin1(kToken);
    });
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"secret_room"_s, 1, 1, u"A"_s);
    const auto r = httpGet(server.port(), "/health");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("rooms"_L1).toInt(), 1);
    QVERIFY(!r.json().contains("roomDetails"_L1));
    QVERIFY(!r.body.contains("secret_room"));
}

void TestHttp::statsCountsTraffic()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"Alice"_s);
    b.join(u"r"_s, 1, 2, u"Bob"_s);
    for (int i = 0; i < 3; ++i)
        a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                {u"message"_s, u"hi"_s}});
    for (int i = 0; i < 3; ++i)
        QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    a.sendRaw(u"{oops"_s);
    QVERIFY(a.waitFor(u"error"_s));

    const auto r = httpGet(server.port(), "/stats");
    QCOMPARE(r.status, 200);
    const auto stats = medrelay::adminapi::Stats::fromJson(r.json());
    QVERIFY(stats);
    QVERIFY(!stats->version.isEmpty());
    QCOMPARE(stats->connections, 2);
    QCOMPARE(stats->rooms.size(), 1);
    QCOMPARE(stats->rooms.at(0).participants.size(), 2);
    const auto &p = stats->rooms.at(0).participants.at(0);
    QVERIFY(!p.connectionId.isEmpty());
    QCOMPARE(p.userId, u"1"_s);
    QCOMPARE(p.address, u"127.0.0.1"_s);
    QVERIFY(p.joinedAt.isValid());
    QCOMPARE(stats->messagesByType.value(u"telemedicine_chat_message"_s), 3);
    QCOMPARE(stats->messagesByType.value(u"telemedicine_user_joined"_s), 2);
    QCOMPARE(stats->errorsByReason.value(u"invalid_json"_s), 1);
    QVERIFY(stats->totals.messagesOut >= 3 + 2 + 1); // chats, room states, join notice
    QVERIFY(stats->totals.bytesIn > 0);
    // The server runs in this process: its figure must match what the kernel
    // says in bytes (VmRSS), whatever the page size.
    const qint64 kernelRss = vmRssBytes();
    QVERIFY(kernelRss > 1024 * 1024);
    QVERIFY2(qAbs(stats->residentMemoryBytes - kernelRss) < kernelRss / 4,
             qPrintable(u"/stats %1 bytes, VmRSS %2 bytes"_s.arg(stats->residentMemoryBytes).arg(kernelRss)));

    // Rates are recomputed once a second from the counters: keep a chat
    // flowing until a tick has seen some, and check the rates agree with it.
    const auto &metrics = server.app().metrics();
    QTRY_VERIFY_WITH_TIMEOUT((a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s},
                                      {u"appointmentId"_s, 1}, {u"message"_s, u"tick"_s}}),
                              metrics.rates().messagesIn > 0),
                             5000);
    const auto rates = metrics.rates();
    QVERIFY(rates.bytesIn > 0);
    QVERIFY(rates.messagesOut > 0); // each chat was relayed to b
    QVERIFY(rates.bytesOut > 0);
}

void TestHttp::metricsIsPrometheusText()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    const auto r = httpGet(server.port(), "/metrics");
    QCOMPARE(r.status, 200);
    QVERIFY(r.headers.contains("text/plain; version=0.0.4"));
    QVERIFY(r.body.contains("# TYPE medrelay_connections gauge\nmedrelay_connections 1\n"));
    QVERIFY(r.body.contains("medrelay_messages_received_total{type=\"telemedicine_user_joined\"} 1\n"));
    QVERIFY(r.body.contains("medrelay_rejections_total{reason=\"rate_limited\"} 0\n"));
}

void TestHttp::unknownPathsAre404_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::addRow("plain get") << QByteArray("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") << 404;
    QTest::addRow("path prefix") << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 404;
    QTest::addRow("upgrade elsewhere")
        << QByteArray("GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        << 404;
    QTest::addRow("plain get on ws path") << QByteArray("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n") << 426;
    QTest::addRow("post health") << QByteArray("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n") << 405;
    QTest::addRow("garbage") << QByteArray("HELLO\r\n\r\n") << 400;
    QTest::addRow("http/2 preface") << QByteArray("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") << 400;
}

void TestHttp::unknownPathsAre404()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    TestServer server;
    QVERIFY(server.started());
    const auto r = rawHttp(server.port(), request);
    QCOMPARE(r.status, status);
    QVERIFY(r.json().value("error"_L1).toObject().contains("code"_L1));
    QCOMPARE(server.app().connections().count(), 0);
}

void TestHttp::adminEndpointsNeedToken_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<bool>("post");
    QTest::addRow("stats") << QByteArray("/stats") << false;
    QTest::addRow("metrics") << QByteArray("/metrics") << false;
    QTest::addRow("events") << QByteArray("/admin/events") << false;
    QTest::addRow("close room") << QByteArray("/admin/rooms/r/close") << true;
    QTest::addRow("close idle") << QByteArray("/admin/rooms/close-idle") << true;
    QTest::addRow("disconnect") << QByteArray("/admin/connections/c1/disconnect") << true;
}

void TestHttp::adminEndpointsNeedToken()
{
    QFETCH(QByteArray, path);
    QFETCH(bool, post);
    TestServer server([](auto &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    const QJsonObject body{{u"idleSeconds"_s, 0}};
    for (const QByteArray &bad : {QByteArray(), QByteArray("wrong-token-wrong-token"), kToken + "x"}) {
        const auto r = post ? httpPost(server.port(), path, body, bad) : httpGet(server.port(), path, bad);
        QCOMPARE(r.status, 401);
        QCOMPARE(r.json().value("error"_L1).toObject().value("code"_L1).toString(), u"unauthorized"_s);
        QVERIFY(r.headers.contains("WWW-Authenticate: Bearer"));
    }
    const auto ok = post ? httpPost(server.port(), path, body, kToken) : httpGet(server.port(), path, kToken);
    QVERIFY2(ok.status == 200 || ok.status == 404, ok.body.constData()); // 404: no such room/connection
    // The scheme name is case-insensitive.
    if (!post)
        QCOMPARE(rawHttp(server.port(), "GET " + path + " HTTP/1.1\r\nAuthorization: bearer " + kToken + "\r\n\r\n").status,
                 200);
    // /health stays open.
    QCOMPARE(httpGet(server.port(), "/health").status, 200);
}

namespace {

// An admin POST exactly as a browser (or a script) would send it.
medrelay::test::HttpResult adminPost(quint16 port, const QByteArray &path, const QByteArray &contentType,
                                     const QByteArray &origin = {}, const QByteArray &bearer = {})
{
    const QByteArray body = R"({"idleSeconds":0})";
    QByteArray req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:9003\r\n";
    if (!contentType.isEmpty())
        req += "Content-Type: " + contentType + "\r\n";
    if (!origin.isEmpty())
        req += "Origin: " + origin + "\r\n";
    if (!bearer.isEmpty())
        req += "Authorization: Bearer " + bearer + "\r\n";
    req += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    return rawHttp(port, req);
}

} // namespace

void TestHttp::adminRefusesCrossSiteRequests()
{
    // Development without an admin token: the API is open to local tools,
    // but not to whatever web page a browser on this machine happens to show.
    TestServer dev([](auto &c) { c.allowedOrigins = {u"https://portal.clinic.example"_s}; });
    QVERIFY(dev.started());
    TestClient member;
    QVERIFY(member.open(dev.wsUrl()));
    member.join(u"consultation"_s, 1, 1, u"A"_s);
    const QByteArray closeIdle = "/admin/rooms/close-idle";

    // A "simple" cross-site form or fetch (no preflight): text/plain.
    auto r = adminPost(dev.port(), closeIdle, "text/plain");
    QCOMPARE(r.status, 415);
    QCOMPARE(r.json().value("error"_L1).toObject().value("code"_L1).toString(), u"unsupported_media_type"_s);
    QCOMPARE(adminPost(dev.port(), closeIdle, "application/x-www-form-urlencoded").status, 415);
    QCOMPARE(adminPost(dev.port(), closeIdle, "multipart/form-data; boundary=x").status, 415);
    QCOMPARE(adminPost(dev.port(), closeIdle, {}).status, 415);
    // What a browser adds to any cross-origin POST: its Origin.
    r = adminPost(dev.port(), closeIdle, "application/json", "https://evil.example");
    QCOMPARE(r.status, 403);
    QCOMPARE(r.json().value("error"_L1).toObject().value("code"_L1).toString(), u"forbidden"_s);
    QCOMPARE(adminPost(dev.port(), closeIdle, "text/plain", "null").status, 403);
    // The web application's origin may open WebSockets, not use the admin API.
    QCOMPARE(adminPost(dev.port(), closeIdle, "application/json", "https://portal.clinic.example").status, 403);
    QCOMPARE(rawHttp(dev.port(), "GET /stats HTTP/1.1\r\nOrigin: https://evil.example\r\n\r\n").status, 403);
    QCOMPARE(rawHttp(dev.port(), "GET /admin/events HTTP/1.1\r\nOrigin: https://evil.example\r\n\r\n").status, 403);
    QVERIFY(dev.app().rooms().find(u"consultation"_s)); // nothing was closed
    QVERIFY(member.staysQuiet(u"room_closed"_s, 100));
    // /health stays open to everyone.
    QCOMPARE(rawHttp(dev.port(), "GET /health HTTP/1.1\r\nOrigin: https://evil.example\r\n\r\n").status, 200);

    // The console and curl send JSON and no Origin.
    r = adminPost(dev.port(), closeIdle, "application/json; charset=utf-8");
    QCOMPARE(r.status, 200);
    QVERIFY(member.waitFor(u"room_closed"_s));

    // Production, right token, wrong Origin: still refused.
    TestServer prod([](auto &c) {
        c.mode = medrelay::server::Mode::Production;
        c.adminToken = QString::fromLatin1(kToken);
        c.adminAllowedOrigins = {u"https://ops.clinic.example"_s};
    });
    QVERIFY(prod.started());
    QCOMPARE(adminPost(prod.port(), closeIdle, "application/json", "https://evil.example", kToken).status, 403);
    QCOMPARE(adminPost(prod.port(), closeIdle, "text/plain", {}, kToken).status, 415);
    QCOMPARE(adminPost(prod.port(), closeIdle, "application/json", {}, kToken).status, 200);
    // An origin on the admin allow-list (an operations dashboard) is let through to the token check.
    QCOMPARE(adminPost(prod.port(), closeIdle, "application/json", "https://ops.clinic.example").status, 401);
    QCOMPARE(adminPost(prod.port(), closeIdle, "application/json", "https://ops.clinic.example", kToken).status, 200);
}

void TestHttp::closeRoomNotifiesMembers()
{
    TestServer server([](auto &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    TestClient a, b, other;
    for (TestClient *c : {&a, &b, &other})
        QVERIFY(c->open(server.wsUrl()));
    a.join(u"closing"_s, 1, 1, u"A"_s);
    b.join(u"closing"_s, 1, 2, u"B"_s);
    other.join(u"staying"_s, 2, 3, u"C"_s);

    const auto r = httpPost(server.port(), "/admin/rooms/closing/close", {{u"reason"_s, u"consultation over"_s}}, kToken);
    QCOMPARE(r.status, 200);
    const auto result = medrelay::adminapi::ActionResult::fromJson(r.json());
    QVERIFY(result && result->ok);
    QCOMPARE(result->rooms, QStringList{u"closing"_s});
    QCOMPARE(result->connections.size(), 2); // the members it removed
    for (TestClient *c : {&a, &b}) {
        const auto closed = c->waitFor(u"room_closed"_s);
        QVERIFY(closed);
        QCOMPARE(closed->value("roomId"_L1).toString(), u"closing"_s);
        QCOMPARE(closed->value("reason"_L1).toString(), u"consultation over"_s);
        QVERIFY(c->isConnected());
    }
    QVERIFY(other.staysQuiet(u"room_closed"_s, 100));
    QVERIFY(!server.app().rooms().find(u"closing"_s));
    QVERIFY(server.app().rooms().find(u"staying"_s));
    // Members were removed: a chat to the closed room is refused.
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"closing"_s}, {u"appointmentId"_s, 1},
            {u"message"_s, u"x"_s}});
    QCOMPARE(a.waitFor(u"error"_s)->value("code"_L1).toString(), u"not_member"_s);

    const auto missing = httpPost(server.port(), "/admin/rooms/nope/close", {}, kToken);
    QCOMPARE(missing.status, 404);
}

void TestHttp::closeIdleRoomsClosesOnlyIdle()
{
    TestServer server([](auto &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    TestClient idle, busy;
    QVERIFY(idle.open(server.wsUrl()));
    QVERIFY(busy.open(server.wsUrl()));
    idle.join(u"idle"_s, 1, 1, u"A"_s);
    QTest::qWait(1200);
    busy.join(u"busy"_s, 2, 2, u"B"_s);

    const QJsonObject req{{u"idleSeconds"_s, 1}, {u"dryRun"_s, true}};
    auto r = httpPost(server.port(), "/admin/rooms/close-idle", req, kToken);
    QCOMPARE(r.status, 200);
    auto result = medrelay::adminapi::ActionResult::fromJson(r.json());
    QVERIFY(result);
    QCOMPARE(result->rooms, QStringList{u"idle"_s});
    QVERIFY(server.app().rooms().find(u"idle"_s)); // dry run closes nothing

    r = httpPost(server.port(), "/admin/rooms/close-idle", {{u"idleSeconds"_s, 1}}, kToken);
    result = medrelay::adminapi::ActionResult::fromJson(r.json());
    QCOMPARE(result->rooms, QStringList{u"idle"_s});
    QVERIFY(idle.waitFor(u"room_closed"_s));
    QVERIFY(!server.app().rooms().find(u"idle"_s));
    QVERIFY(server.app().rooms().find(u"busy"_s));
    QVERIFY(busy.staysQuiet(u"room_closed"_s, 100));

    QCOMPARE(httpPost(server.port(), "/admin/rooms/close-idle", {{u"idleSeconds"_s, u"soon"_s}}, kToken).status, 400);
}

void TestHttp::disconnectClosesOneConnection()
{
    TestServer server([](auto &c) { c.adminToken = QString::fromLatin1(kToken); });
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    const QString aId = a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    const auto r = httpPost(server.port(), "/admin/connections/" + aId.toLatin1() + "/disconnect",
                            {{u"reason"_s, u"test"_s}}, kToken);
    QCOMPARE(r.status, 200);
    QVERIFY(a.waitDisconnected());
    QCOMPARE(a.closeCode(), 4003);
    const auto left = b.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("connectionId"_L1).toString(), aId);
    QVERIFY(b.isConnected());
}

void TestHttp::eventsArePaged()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"ev"_s, 1, 1, u"Secret Name"_s);
    auto page = medrelay::adminapi::EventPage::fromJson(httpGet(server.port(), "/admin/events?since=0").json());
    QVERIFY(page);
    QVERIFY(page->events.size() >= 2); // room_created, join
    QCOMPARE(page->events.last().kind, u"join"_s);
    QCOMPARE(page->events.last().roomId, u"ev"_s);
    const auto raw = httpGet(server.port(), "/admin/events?since=0");
    QVERIFY(!raw.body.contains("Secret Name")); // ids only
    const qint64 next = page->nextSeq;
    page = medrelay::adminapi::EventPage::fromJson(
        httpGet(server.port(), "/admin/events?since=" + QByteArray::number(next)).json());
    QVERIFY(page);
    QCOMPARE(page->events.size(), 0);
    QCOMPARE(httpGet(server.port(), "/admin/events?since=-4").status, 400);
}

void TestHttp::requestLimits()
{
    TestServer server;
    QVERIFY(server.started());
    // A head over 8 KiB is refused without waiting for its end.
    const QByteArray big = "GET /health HTTP/1.1\r\nX-Filler: " + QByteArray(9000, 'a');
    QCOMPARE(rawHttp(server.port(), big).status, 431);
    // A body over the limit is refused.
    QCOMPARE(rawHttp(server.port(), "POST /admin/rooms/close-idle HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n").status,
             413);
    // Too many headers.
    QByteArray many = "GET /health HTTP/1.1\r\n";
    for (int i = 0; i < 80; ++i)
        many += "X-H" + QByteArray::number(i) + ": v\r\n";
    QCOMPARE(rawHttp(server.port(), many + "\r\n").status, 431);
    QCOMPARE(server.app().metrics().rejections(medrelay::server::Rejection::HeadTooLarge), 2);
    // Chunked bodies are refused with a clear status rather than misread.
    QCOMPARE(rawHttp(server.port(), "POST /admin/rooms/close-idle HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "5\r\n{\"a\":\r\n0\r\n\r\n").status,
             411);
    // And the server still answers.
    QCOMPARE(httpGet(server.port(), "/health").status, 200);
}

void TestHttp::slowRequestTimesOut()
{
    TestServer server([](auto &c) { c.requestTimeoutMs = 300; });
    QVERIFY(server.started());
    // Slowloris: a head that never ends, and a WebSocket handshake that never
    // completes. The server answers 408 and closes; the client's own timeout
    // (10 s) is only a guard and gives status 0 when it fires.
    const auto r = rawHttp(server.port(), "GET /health HTTP/1.1\r\nX-Slow: 1\r\n", 10000);
    QCOMPARE(r.status, 408);
    QCOMPARE(server.app().metrics().rejections(medrelay::server::Rejection::RequestTimeout), 1);
    const auto ws = rawHttp(server.port(), "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n", 10000);
    QCOMPARE(ws.status, 408);
    QCOMPARE(server.app().metrics().rejections(medrelay::server::Rejection::RequestTimeout), 2);
}

QTEST_GUILESS_MAIN(TestHttp)
#include "tst_http.moc"
