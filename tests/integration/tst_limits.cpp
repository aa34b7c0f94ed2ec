// Each limit holds over real sockets, and the server keeps serving everyone
// else while it is enforced.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include <QSignalSpy>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

QJsonObject whiteboard(const QString &room, const QString &data)
{
    return {{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, room}, {u"data"_s, data}};
}

QByteArray joinFrame(const QString &room, int appointment, int user)
{
    return clientTextFrame(u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"%1\",\"appointmentId\":%2,"
                           "\"userId\":%3,\"userName\":\"raw\"}"_s.arg(room).arg(appointment).arg(user).toUtf8());
}

} // namespace

class TestLimits final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void oversizedMessageCloses1009();
    void briefBurstIsRefusedNotClosed();
    void floodCloses1008();
    void slowReaderIsClosed();
    void totalConnectionCap();
    void perAddressCap();
    void forwardedForFromTrustedProxiesOnly();
    void unansweredPingsClose();
    void unsolicitedPongsDoNotKeepAlive();
    void idleRoomsAreSwept();
    void roomAndMembershipCaps();
};

void TestLimits::oversizedMessageCloses1009()
{
    TestServer server([](ServerConfig &c) { c.maxMessageBytes = 1024; });
    QVERIFY(server.started());
    TestClient big, bystander;
    QVERIFY(big.open(server.wsUrl()));
    QVERIFY(bystander.open(server.wsUrl()));
    big.join(u"r"_s, 1, 1, u"A"_s);
    bystander.join(u"r"_s, 1, 2, u"B"_s);
    big.send(whiteboard(u"r"_s, QString(900, u'x'))); // under the limit: relayed
    QVERIFY(bystander.waitFor(u"whiteboard_update"_s));
    big.send(whiteboard(u"r"_s, QString(2000, u'x')));
    QVERIFY(big.waitDisconnected());
    QCOMPARE(big.closeCode(), 1009);
    QVERIFY(bystander.staysQuiet(u"whiteboard_update"_s, 100));
    QVERIFY(bystander.waitFor(u"telemedicine_user_left"_s));
    QVERIFY(bystander.isConnected());
    QTRY_COMPARE(server.app().metrics().rejections(Rejection::MessageTooLarge), 1);
}

void TestLimits::briefBurstIsRefusedNotClosed()
{
    TestServer server([](ServerConfig &c) {
        c.rateLimitPerSecond = 5;
        c.rateLimitBurst = 10;
    });
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    for (int i = 0; i < 14; ++i)
        a.sendRaw(u"{\"type\":\"whiteboard_update\",\"roomId\":\"none\",\"data\":1}"_s);
    // 10 pass (and are refused as not_member), then rate_limited.
    bool sawRateLimited = false;
    while (auto e = a.waitFor(u"error"_s, 1000)) {
        if (e->value("code"_L1).toString() == u"rate_limited"_s)
            sawRateLimited = true;
    }
    QVERIFY(sawRateLimited);
    QVERIFY(a.isConnected());
    QTest::qWait(500); // tokens refill
    QVERIFY(!a.join(u"after"_s, 1, 1, u"A"_s).isEmpty());
    QVERIFY(server.app().rooms().find(u"after"_s));
}

void TestLimits::floodCloses1008()
{
    TestServer server([](ServerConfig &c) {
        c.rateLimitPerSecond = 5;
        c.rateLimitBurst = 10;
    });
    QVERIFY(server.started());
    TestClient flooder, calm;
    QVERIFY(flooder.open(server.wsUrl()));
    QVERIFY(calm.open(server.wsUrl()));
    for (int i = 0; i < 200; ++i)
        flooder.sendRaw(u"{\"type\":\"whiteboard_update\",\"roomId\":\"none\",\"data\":1}"_s);
    QVERIFY(flooder.waitDisconnected());
    QCOMPARE(flooder.closeCode(), 1008);
    QCOMPARE(server.app().metrics().rejections(Rejection::RateLimited), 1);
    QVERIFY(calm.join(u"r"_s, 1, 2, u"Calm"_s).size() > 0);
}

void TestLimits::slowReaderIsClosed()
{
    TestServer server([](ServerConfig &c) {
        c.rateLimitPerSecond = 0;
        c.sendQueueLimitBytes = 256 * 1024;
        c.resumeGraceMs = 200; // a dropped reader keeps its place this long
    });
    QVERIFY(server.started());
    auto slow = rawWebSocket(server.port());
    QVERIFY(slow);
    slow->write(joinFrame(u"r"_s, 1, 3));
    TestClient sender, reader;
    QVERIFY(sender.open(server.wsUrl()));
    QVERIFY(reader.open(server.wsUrl()));
    sender.join(u"r"_s, 1, 1, u"S"_s);
    reader.join(u"r"_s, 1, 2, u"R"_s);
    QTRY_COMPARE(server.app().rooms().find(u"r"_s)->size(), 3);
    // From here the raw client reads nothing at all.
    slow->setReadBufferSize(1);
    slow->setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);

    const QString chunk(32 * 1024, u'w');
    int delivered = 0;
    for (int i = 0; i < 1200 && server.app().metrics().rejections(Rejection::SlowConsumer) == 0; ++i) {
        sender.send(whiteboard(u"r"_s, chunk));
        // In lockstep with the well-behaved reader: it is never more than one
        // message behind, so only the client that reads nothing can fall
        // behind by the cap, whatever the machine's load.
        QVERIFY(reader.waitFor(u"whiteboard_update"_s, 10000));
        ++delivered;
    }
    QTRY_COMPARE(server.app().metrics().rejections(Rejection::SlowConsumer), 1);
    // Kept for the resume grace, then gone.
    QTRY_COMPARE(server.app().rooms().find(u"r"_s)->size(), 2);
    // The others were not held back: the reader keeps receiving.
    sender.send(whiteboard(u"r"_s, u"last"_s));
    for (;;) {
        const auto m = reader.waitFor(u"whiteboard_update"_s);
        QVERIFY(m);
        if (m->value("data"_L1).toString() == u"last"_s)
            break;
    }
    QVERIFY(sender.isConnected());
}

void TestLimits::totalConnectionCap()
{
    TestServer server([](ServerConfig &c) { c.maxConnections = 3; });
    QVERIFY(server.started());
    TestClient c1, c2, c3;
    for (TestClient *c : {&c1, &c2, &c3})
        QVERIFY(c->open(server.wsUrl()));
    const auto refused = rawHttp(server.port(),
                                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QCOMPARE(refused.status, 503);
    QCOMPARE(refused.json().value("error"_L1).toObject().value("code"_L1).toString(), u"too_many_connections"_s);
    // Health checks are still served at the cap.
    QCOMPARE(httpGet(server.port(), "/health").status, 200);
    c1.close();
    QVERIFY(c1.waitDisconnected());
    QTRY_COMPARE(server.app().connections().count(), 2);
    TestClient c4;
    QVERIFY(c4.open(server.wsUrl()));
}

void TestLimits::perAddressCap()
{
    TestServer server([](ServerConfig &c) { c.maxConnectionsPerAddress = 2; });
    QVERIFY(server.started());
    TestClient c1, c2;
    QVERIFY(c1.open(server.wsUrl()));
    QVERIFY(c2.open(server.wsUrl()));
    TestClient c3;
    QVERIFY(!c3.open(server.wsUrl(), 1000));
    QCOMPARE(server.app().metrics().rejections(Rejection::TooManyFromAddress), 1);
    QCOMPARE(server.app().connections().count(), 2);
}

void TestLimits::forwardedForFromTrustedProxiesOnly()
{
    // 198.51.100.0/24 and 203.0.113.0/24 are documentation ranges: only header
    // values here, no traffic goes there.
    const auto openFrom = [](TestServer &server, TestClient &c, const QByteArray &forwardedFor) {
        QNetworkRequest r;
        r.setRawHeader("X-Forwarded-For", forwardedFor);
        return c.open(server.wsUrl(), 2000, r);
    };
    TestServer proxied([](ServerConfig &c) {
        c.trustedProxies = {u"127.0.0.1"_s, u"198.51.100.0/24"_s};
        c.maxConnectionsPerAddress = 1;
    });
    QVERIFY(proxied.started());
    TestClient a, b, sameClient;
    QVERIFY(openFrom(proxied, a, "203.0.113.7"));
    QVERIFY(openFrom(proxied, b, "203.0.113.8, 198.51.100.20")); // through two trusted proxies
    QVERIFY(!openFrom(proxied, sameClient, "203.0.113.7")); // the cap is per real client
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    QStringList addresses;
    const auto stats = proxied.app().admin().stats();
    for (const auto &p : stats.rooms.at(0).participants)
        addresses.append(p.address);
    addresses.sort();
    QCOMPARE(addresses, (QStringList{u"203.0.113.7"_s, u"203.0.113.8"_s}));

    // Without trusted proxies the header is the client's own claim: ignored.
    TestServer direct([](ServerConfig &c) { c.maxConnectionsPerAddress = 1; });
    QVERIFY(direct.started());
    TestClient c1, c2;
    QVERIFY(openFrom(direct, c1, "203.0.113.7"));
    QVERIFY(!openFrom(direct, c2, "203.0.113.99")); // still 127.0.0.1, over the cap
    c1.join(u"r"_s, 1, 1, u"A"_s);
    QCOMPARE(direct.app().admin().stats().rooms.at(0).participants.at(0).address, u"127.0.0.1"_s);
}

void TestLimits::unansweredPingsClose()
{
    TestServer server([](ServerConfig &c) {
        c.pingIntervalMs = 150;
        c.resumeGraceMs = 200; // a lost connection keeps its place this long
    });
    QVERIFY(server.started());
    auto silent = rawWebSocket(server.port());
    QVERIFY(silent);
    silent->write(joinFrame(u"r"_s, 1, 1));
    TestClient alive;
    QVERIFY(alive.open(server.wsUrl()));
    alive.join(u"r"_s, 1, 2, u"Alive"_s);
    silent->setReadBufferSize(1); // never reads, so never answers a ping
    QTRY_COMPARE_WITH_TIMEOUT(server.app().metrics().rejections(Rejection::PingTimeout), 1, 3000);
    // Its place is kept for the resume grace, then the others are told.
    const auto left = alive.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("reason"_L1).toString(), u"timeout"_s);
    QTest::qWait(600); // several more ping rounds: the answering client stays
    QVERIFY(alive.isConnected());
    QCOMPARE(server.app().connections().count(), 1);
}

void TestLimits::unsolicitedPongsDoNotKeepAlive()
{
    TestServer server([](ServerConfig &c) { c.pingIntervalMs = 150; });
    QVERIFY(server.started());
    auto deaf = rawWebSocket(server.port());
    QVERIFY(deaf);
    deaf->setReadBufferSize(1); // reads nothing, so never sees a ping
    TestClient alive;
    QVERIFY(alive.open(server.wsUrl()));
    // Pongs of its own making, several per ping interval, with payloads a
    // guesser would try: they must not count as answers.
    const QList<QByteArray> guesses = {QByteArray(), QByteArray(4, '\0'), QByteArray("ping"), QByteArray(125, 'x')};
    for (int i = 0; server.app().metrics().rejections(Rejection::PingTimeout) == 0 && i < 200; ++i) {
        deaf->write(clientFrame(0xA, guesses.at(i % guesses.size())));
        QTest::qWait(30);
    }
    QCOMPARE(server.app().metrics().rejections(Rejection::PingTimeout), 1);
    QTRY_COMPARE(server.app().connections().count(), 1);
    // The client that answers its pings is still there.
    QVERIFY(alive.isConnected());
    QVERIFY(!alive.join(u"r"_s, 1, 2, u"Alive"_s).isEmpty());
}

void TestLimits::idleRoomsAreSwept()
{
    TestServer server([](ServerConfig &c) {
        c.idleRoomTimeoutMs = 400;
        c.idleSweepIntervalMs = 100;
    });
    QVERIFY(server.started());
    QSignalSpy swept(&server.app().idleSweeper(), &IdleSweeper::swept);
    TestClient quiet, active, listener;
    QVERIFY(quiet.open(server.wsUrl()));
    QVERIFY(active.open(server.wsUrl()));
    QVERIFY(listener.open(server.wsUrl()));
    quiet.join(u"quiet"_s, 1, 1, u"Q"_s);
    active.join(u"active"_s, 2, 2, u"A"_s);
    // Only traffic that reaches somebody keeps a room active.
    listener.join(u"active"_s, 2, 3, u"L"_s);
    for (int i = 0; i < 10; ++i) {
        active.send(whiteboard(u"active"_s, u"tick"_s));
        QTest::qWait(80);
    }
    const auto closed = quiet.waitFor(u"room_closed"_s, 1000);
    QVERIFY(closed);
    QCOMPARE(closed->value("reason"_L1).toString(), u"idle"_s);
    QVERIFY(!server.app().rooms().find(u"quiet"_s));
    QVERIFY(server.app().rooms().find(u"active"_s));
    QVERIFY(std::any_of(swept.cbegin(), swept.cend(), [](const QList<QVariant> &a) { return a.at(0).toInt() == 1; }));
}

void TestLimits::roomAndMembershipCaps()
{
    TestServer server([](ServerConfig &c) {
        c.maxParticipantsPerRoom = 2;
        c.maxRoomsPerConnection = 2;
    });
    QVERIFY(server.started());
    TestClient a, b, c;
    for (TestClient *cl : {&a, &b, &c})
        QVERIFY(cl->open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    c.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1}, {u"userId"_s, 3}});
    QCOMPARE(c.waitFor(u"error"_s)->value("code"_L1).toString(), u"room_full"_s);
    a.join(u"r2"_s, 2, 1, u"A"_s);
    a.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r3"_s}, {u"appointmentId"_s, 3}, {u"userId"_s, 1}});
    QCOMPARE(a.waitFor(u"error"_s)->value("code"_L1).toString(), u"too_many_rooms"_s);
}

QTEST_GUILESS_MAIN(TestLimits)
#include "tst_limits.moc"
