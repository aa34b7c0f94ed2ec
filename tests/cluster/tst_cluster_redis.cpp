// Redis failing under a running cluster, over real sockets: instances in this
// process on a redis-server the test starts, which then stops answering
// (SIGSTOP) or comes back without its data.
//
// - Frozen: the sockets stay open, so each instance finds out by its pings
//   going unanswered; it reports degraded, signalling between members on the
//   same instance goes on, and after SIGCONT the rooms are shared again. A
//   message sent as Redis froze is refused, yet Redis runs it when it wakes
//   up: it reaches the others, and the sender's retry with the same
//   clientMessageId gets its seq, with no duplicate.
// - Back without its data, the instances coming back one after the other:
//   each writes back the members still connected to it, so every instance
//   lists everyone again; the first one back keeps the others' members for a
//   presence TTL, so nobody hears of anyone leaving, and an instance back
//   later than that has its members announced as left, then as back. The
//   history and the numbering are gone (the next message is seq 1), and a
//   client resuming from before the loss is told so (resume_gap). A message
//   stored in the new numbering before an instance is back reaches its
//   members.

#include "ClusterFixture.h"

#include <QSignalSpy>

#include <memory>
#include <vector>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

class TestClusterRedis final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void frozenRedisIsNoticedAndOutlived();
    void redisBackWithoutItsData();
    void instanceBackLaterThanTheTtl();
    void redisBackWithoutItsDataMessageMeanwhile();

private:
    // An instance on Redis user `user` (created here).
    bool addGated(Cluster &cluster, const QByteArray &user, int presenceTtlMs = 2000);
    // Stops Redis, waits until every instance (link and history store) has
    // noticed, deletes its data
    // and starts it again, with the users added by addGated() unable to SET:
    // their instances' history stores connect, but the instances cannot
    // register their presence, so they stay unavailable and resynchronise
    // nothing until letRegister() lets them. The test decides the order in
    // which the instances come back.
    bool restartEmpty(Cluster &cluster);
    bool letRegister(const QByteArray &user);
    // Two gated instances ("one", "two"): A joins `room` on the first, C on
    // the second, and A has heard of C.
    bool startPair(Cluster &cluster, TestClient &a, TestClient &c, const QString &room, QString &ca, QString &cc);

    RedisServer m_redis;
    QList<QByteArray> m_users;
};

namespace {

QStringList sorted(QStringList list)
{
    list.sort();
    return list;
}

// Sends a chat message and waits for its ack: its seq, or 0.
int sendChat(TestClient &c, const QString &room, const QString &text, const QString &clientMessageId)
{
    c.send(chat(room, text, clientMessageId));
    const auto ack = c.waitFor(u"ack"_s);
    return ack ? ack->value("seq"_L1).toInt() : 0;
}

bool linkAvailable(const TestServer &s)
{
    return s.app().cluster() && s.app().cluster()->available();
}

// A Redis user for one instance; without SET it cannot refresh its presence.
QList<QByteArray> userRule(const QByteArray &user, bool canSet)
{
    QList<QByteArray> rule{user, "on", ">secret", "~*", "&*", "+@all"};
    if (!canSet)
        rule.append("-set");
    return rule;
}

} // namespace

void TestClusterRedis::initTestCase()
{
    if (!RedisServer::available())
        QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
}

void TestClusterRedis::init()
{
    QVERIFY2(m_redis.startEmpty(), qPrintable(m_redis.error()));
}

void TestClusterRedis::cleanup()
{
    m_redis.resume(); // a failed test may have left it frozen
    m_users.clear();
}

bool TestClusterRedis::addGated(Cluster &cluster, const QByteArray &user, int presenceTtlMs)
{
    if (m_redis.command(QList<QByteArray>{"ACL", "SETUSER"} + userRule(user, true)).toByteArray() != "OK")
        return false;
    m_users.append(user);
    const QString url = u"redis://%1:secret@127.0.0.1:%2/0"_s.arg(QString::fromLatin1(user)).arg(m_redis.port());
    return cluster
        .add([&](medrelay::server::ServerConfig &c) {
            c.redisUrl = url;
            c.clusterPresenceTtlMs = presenceTtlMs;
        })
        .started();
}

bool TestClusterRedis::restartEmpty(Cluster &cluster)
{
    m_redis.stop();
    if (!QTest::qWaitFor([&] {
            for (int i = 0; i < cluster.size(); ++i) {
                if (linkAvailable(cluster[i]) || !cluster[i].app().history().stats().degraded)
                    return false;
            }
            return true;
        }, 15000)) {
        return false;
    }
    if (!m_redis.wipe())
        return false;
    QStringList args;
    for (const QByteArray &user : std::as_const(m_users)) {
        args.append(u"--user"_s);
        for (const QByteArray &word : userRule(user, false))
            args.append(QString::fromLatin1(word));
    }
    if (!m_redis.start(args))
        return false;
    // The history stores are back; the instances are not.
    const bool historyBack = QTest::qWaitFor([&] {
        for (int i = 0; i < cluster.size(); ++i) {
            if (cluster[i].app().history().stats().degraded)
                return false;
        }
        return true;
    }, 15000);
    for (int i = 0; i < cluster.size(); ++i) {
        if (linkAvailable(cluster[i]) || healthStatus(cluster[i].port()) != u"degraded"_s)
            return false;
    }
    return historyBack;
}

bool TestClusterRedis::startPair(Cluster &cluster, TestClient &a, TestClient &c, const QString &room, QString &ca,
                                 QString &cc)
{
    if (!addGated(cluster, "one") || !addGated(cluster, "two")
        || !QTest::qWaitFor([&cluster] { return cluster.available(); }, 15000))
        return false;
    if (!a.open(cluster[0].wsUrl()) || !c.open(cluster[1].wsUrl()))
        return false;
    ca = a.join(room, 1, 1, u"A"_s);
    cc = c.join(room, 1, 3, u"C"_s);
    return !ca.isEmpty() && !cc.isEmpty() && a.waitFor(u"telemedicine_user_joined"_s).has_value();
}

bool TestClusterRedis::letRegister(const QByteArray &user)
{
    return m_redis.command({"ACL", "SETUSER", user, "+set"}).toByteArray() == "OK";
}

void TestClusterRedis::frozenRedisIsNoticedAndOutlived()
{
    Cluster cluster(m_redis);
    // Presence outlives the freeze: nobody is taken for dead here.
    const auto longPresence = [](medrelay::server::ServerConfig &c) { c.clusterPresenceTtlMs = 30000; };
    QVERIFY(cluster.add(longPresence).started());
    QVERIFY(cluster.add(longPresence).started());
    QTRY_VERIFY(cluster.available());
    // A and B on the first instance, C on the second.
    TestClient a, b, c;
    QString ca, cb, cc;
    QVERIFY(joinThree(cluster, a, b, c, u"f"_s, ca, cb, cc));
    const int seq = sendChat(a, u"f"_s, u"before"_s, u"f1"_s);
    QVERIFY(seq > 0);
    QTRY_COMPARE(valuesOf(c, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"before"_s});

    std::vector<std::unique_ptr<QSignalSpy>> changes;
    for (int i = 0; i < 2; ++i) {
        changes.push_back(std::make_unique<QSignalSpy>(cluster[i].app().cluster(),
                                                       &medrelay::cluster::ClusterBus::availabilityChanged));
    }
    QVERIFY(m_redis.pause());
    // Sent as Redis froze: stored by a command on its socket, unanswered.
    b.send(chat(u"f"_s, u"in flight"_s, u"f2"_s));
    // No socket closes: each instance finds out by its ping timeout, and says so.
    for (int i = 0; i < 2; ++i) {
        auto &spy = *changes[static_cast<size_t>(i)];
        QTRY_COMPARE_WITH_TIMEOUT(spy.size(), 1, 20000);
        QCOMPARE(spy.at(0).at(0).toBool(), false);
        QCOMPARE(healthStatus(cluster[i].port()), u"degraded"_s);
        QCOMPARE(clusterAvailableMetric(cluster[i].port()), 0);
    }
    // The message in flight is refused once its connection is given up.
    const auto refused = b.waitFor(u"error"_s, 20000);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"history_unavailable"_s);
    // Members on the same instance go on signalling, both ways.
    a.send(offer(u"f"_s, cb));
    const auto offered = b.waitFor(u"telemedicine_offer"_s);
    QVERIFY(offered);
    QCOMPARE(offered->value("fromConnectionId"_L1).toString(), ca);
    b.send(offer(u"f"_s, ca));
    QVERIFY(a.waitFor(u"telemedicine_offer"_s));
    QVERIFY(cluster[0].app().rooms().find(u"f"_s) && cluster[1].app().rooms().find(u"f"_s));

    QVERIFY(m_redis.resume());
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 20000);
    for (int i = 0; i < 2; ++i) {
        auto &spy = *changes[static_cast<size_t>(i)];
        QCOMPARE(spy.size(), 2);
        QCOMPARE(spy.at(1).at(0).toBool(), true);
        QTRY_COMPARE(healthStatus(cluster[i].port()), u"healthy"_s);
        QCOMPARE(clusterAvailableMetric(cluster[i].port()), 1);
    }
    // Redis ran what was on its sockets when it woke up: B's refused message
    // was stored after all. B, unsure, sends it again: the ack gives its
    // seq, and it is not stored or relayed a second time.
    QCOMPARE(sendChat(b, u"f"_s, u"in flight"_s, u"f2"_s), seq + 1);
    // The consultation spread over both instances goes on, numbered on.
    QCOMPARE(sendChat(c, u"f"_s, u"after"_s, u"f3"_s), seq + 2);
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"in flight"_s, u"after"_s}));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"before"_s, u"after"_s}));
    QTRY_COMPARE(valuesOf(c, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"before"_s, u"in flight"_s}));
    a.send(offer(u"f"_s, cc));
    const auto crossed = c.waitFor(u"telemedicine_offer"_s);
    QVERIFY(crossed);
    QCOMPARE(crossed->value("fromConnectionId"_L1).toString(), ca);
    QVERIFY(c.staysQuiet(u"telemedicine_chat_message"_s, 200));
    QCOMPARE(seqsOf(a), (QList<int>{seq + 1, seq + 2}));
    QCOMPARE(seqsOf(b), (QList<int>{seq, seq + 2}));
    QCOMPARE(seqsOf(c), (QList<int>{seq, seq + 1}));
    // Nobody left meanwhile.
    for (int i = 0; i < 2; ++i)
        QCOMPARE(roomParticipants(cluster[i].port(), "f"), sorted({ca, cb, cc}));
    for (const TestClient *x : {&a, &b, &c})
        QCOMPARE(countOf(*x, u"telemedicine_user_left"_s), 0);
}

void TestClusterRedis::redisBackWithoutItsData()
{
    // Presence outlives the time the instances take to come back.
    Cluster cluster(m_redis);
    QVERIFY(addGated(cluster, "one", 10000));
    QVERIFY(addGated(cluster, "two", 10000));
    QTRY_VERIFY(cluster.available());
    TestClient a, b, c;
    QString ca, cb, cc;
    QVERIFY(joinThree(cluster, a, b, c, u"e"_s, ca, cb, cc));
    QCOMPARE(sendChat(a, u"e"_s, u"m1"_s, u"e1"_s), 1);
    QCOMPARE(sendChat(c, u"e"_s, u"m2"_s, u"e2"_s), 2);
    QCOMPARE(sendChat(a, u"e"_s, u"m3"_s, u"e3"_s), 3);
    QTRY_COMPARE(seqsOf(b), (QList<int>{1, 2, 3}));
    for (int i = 0; i < 2; ++i)
        QTRY_COMPARE(roomLastSeq(cluster[i].port(), "e"), 3);

    QVERIFY(restartEmpty(cluster));
    // The second instance comes back first. It can only write back its own
    // member, and keeps the first one's members while that one has the time
    // to come back (a presence TTL): C is told nothing.
    QVERIFY(letRegister("two"));
    QTRY_VERIFY_WITH_TIMEOUT(linkAvailable(cluster[1]), 10000);
    QTRY_COMPARE(roomLastSeq(cluster[1].port(), "e"), 0);
    QCOMPARE(roomParticipants(cluster[1].port(), "e"), sorted({ca, cb, cc}));
    QVERIFY(!linkAvailable(cluster[0]));

    // Then the first: its members are back in the shared state, everyone is
    // listed everywhere, and nobody heard of anyone leaving or coming back.
    QVERIFY(letRegister("one"));
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 10000);
    for (int i = 0; i < 2; ++i) {
        QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(cluster[i].port(), "e"), sorted({ca, cb, cc}), 10000);
        // The history went with Redis: the numbering restarts everywhere.
        QTRY_COMPARE(roomLastSeq(cluster[i].port(), "e"), 0);
    }
    for (const TestClient *x : {&a, &b, &c})
        QCOMPARE(countOf(*x, u"telemedicine_user_left"_s), 0);
    QCOMPARE(countOf(c, u"telemedicine_user_joined"_s), 0);

    // A newcomer sees everyone, and no history.
    TestClient d;
    QVERIFY(d.open(cluster[1].wsUrl()));
    d.send(joinMessage(u"e"_s, 1, 4));
    const auto state = d.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QString cd = state->value("connectionId"_L1).toString();
    const QStringList everyone = sorted({ca, cb, cc, cd});
    QCOMPARE(participantIds(*state), everyone);
    QCOMPARE(state->value("lastSeq"_L1).toInt(), 0);
    QVERIFY(state->value("recentChat"_L1).toArray().isEmpty());
    for (TestClient *x : {&a, &b, &c})
        QTRY_VERIFY(valuesOf(*x, u"telemedicine_user_joined"_s, u"connectionId"_s).contains(cd));

    // The numbering starts again at 1, and messages cross again.
    QCOMPARE(sendChat(c, u"e"_s, u"after"_s, u"e4"_s), 1);
    QCOMPARE(sendChat(a, u"e"_s, u"reply"_s, u"e5"_s), 2);
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"m2"_s, u"after"_s}));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"m1"_s, u"m2"_s, u"m3"_s, u"after"_s, u"reply"_s}));
    QTRY_COMPARE(valuesOf(c, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"m1"_s, u"m3"_s, u"reply"_s}));
    QTRY_COMPARE(valuesOf(d, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"after"_s, u"reply"_s}));
    QCOMPARE(seqsOf(b), (QList<int>{1, 2, 3, 1, 2}));
    QCOMPARE(seqsOf(d), (QList<int>{1, 2}));

    // A client resuming with a seq from before the loss is told that what it
    // asked for is gone (resume_gap), and gets what the new history holds.
    TestClient e;
    QVERIFY(e.open(cluster[0].wsUrl()));
    e.send(joinMessage(u"e"_s, 1, 5, {}, 3));
    const auto resumed = e.waitFor(u"room_state"_s);
    QVERIFY(resumed);
    QCOMPARE(participantIds(*resumed), sorted(everyone + QStringList{resumed->value("connectionId"_L1).toString()}));
    QCOMPARE(resumed->value("lastSeq"_L1).toInt(), 2);
    const auto gap = e.waitFor(u"resume_gap"_s);
    QVERIFY(gap);
    QCOMPARE(gap->value("requestedAfter"_L1).toInt(), 3);
    QTRY_COMPARE(valuesOf(e, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"after"_s, u"reply"_s}));
    QCOMPARE(seqsOf(e), (QList<int>{1, 2}));
}

// Redis back without its data, and one instance back only after its
// presence TTL: the others take its members for gone and say so, then,
// when it writes them back, say that they are back.
void TestClusterRedis::instanceBackLaterThanTheTtl()
{
    Cluster cluster(m_redis);
    TestClient a, c;
    QString ca, cc;
    QVERIFY(startPair(cluster, a, c, u"g"_s, ca, cc));

    QVERIFY(restartEmpty(cluster));
    QVERIFY(letRegister("two"));
    QTRY_VERIFY_WITH_TIMEOUT(linkAvailable(cluster[1]), 10000);
    // A presence TTL (2 s here) later, A is taken for gone.
    QTRY_COMPARE_WITH_TIMEOUT(valuesOf(c, u"telemedicine_user_left"_s, u"connectionId"_s), QStringList{ca}, 10000);
    QCOMPARE(valuesOf(c, u"telemedicine_user_left"_s, u"reason"_s), QStringList{u"disconnected"_s});
    QTRY_COMPARE(roomParticipants(cluster[1].port(), "g"), QStringList{cc});

    // Its instance comes back and writes it back: C is told it is back.
    QVERIFY(letRegister("one"));
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(valuesOf(c, u"telemedicine_user_joined"_s, u"connectionId"_s), QStringList{ca},
                              10000);
    for (int i = 0; i < 2; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(cluster[i].port(), "g"), sorted({ca, cc}), 10000);
    QCOMPARE(countOf(a, u"telemedicine_user_left"_s), 0);
    // And the room works across instances.
    QCOMPARE(sendChat(c, u"g"_s, u"hello again"_s, u"g1"_s), 1);
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"hello again"_s});
}

// As above, and a message is stored in the new numbering while the first
// instance is not back yet. Its members must still get it once it is.
void TestClusterRedis::redisBackWithoutItsDataMessageMeanwhile()
{
    Cluster cluster(m_redis);
    TestClient a, c;
    QString ca, cc;
    QVERIFY(startPair(cluster, a, c, u"h"_s, ca, cc));
    QCOMPARE(sendChat(a, u"h"_s, u"m1"_s, u"h1"_s), 1);
    QCOMPARE(sendChat(c, u"h"_s, u"m2"_s, u"h2"_s), 2);
    QCOMPARE(sendChat(a, u"h"_s, u"m3"_s, u"h3"_s), 3);
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"m2"_s});

    QVERIFY(restartEmpty(cluster));
    QVERIFY(letRegister("two"));
    QTRY_VERIFY_WITH_TIMEOUT(linkAvailable(cluster[1]), 10000);
    QTRY_COMPARE(roomLastSeq(cluster[1].port(), "h"), 0);
    QCOMPARE(sendChat(c, u"h"_s, u"while behind"_s, u"h4"_s), 1);

    QVERIFY(letRegister("one"));
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 10000);
    for (int i = 0; i < 2; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(cluster[i].port(), "h"), sorted({ca, cc}), 10000);
    // The first instance takes up the new numbering where the history
    // stands, and what follows reaches A.
    QTRY_COMPARE(roomLastSeq(cluster[0].port(), "h"), 1);
    QCOMPARE(sendChat(c, u"h"_s, u"next"_s, u"h5"_s), 2);
    QTRY_VERIFY(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s).contains(u"next"_s));
    // 'while behind', stored in the new numbering before A's instance was
    // back, reaches A too.
    QCOMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s),
             (QStringList{u"m2"_s, u"while behind"_s, u"next"_s}));
}

QTEST_MAIN(TestClusterRedis)
#include "tst_cluster_redis.moc"
