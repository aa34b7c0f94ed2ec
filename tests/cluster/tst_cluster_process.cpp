// Cluster instances as real server processes on a redis-server the test
// starts, for what needs a process of its own: one instance killed with -9.
// Its participants are reported as left to the others within the presence
// TTL and the resume grace; a client that reconnects to another instance
// resumes with nothing lost and nothing duplicated, and its retried message
// is deduplicated across instances.

#include "ClusterFixture.h"
#include "RawHttp.h"
#include "ServerBinary.h"

#include <QTemporaryDir>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

class TestClusterProcess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void killedInstanceLeavesAndItsClientsResumeElsewhere();

private:
    RedisServer m_redis;
};

namespace {

// Instances with a live presence, as one instance's /stats shows them.
int aliveInstances(quint16 port)
{
    int alive = 0;
    const QJsonObject stats = httpGet(port, "/stats").json();
    for (const QJsonValue &i : stats.value("cluster"_L1).toObject().value("instances"_L1).toArray())
        alive += i.toObject().value("alive"_L1).toBool() ? 1 : 0;
    return alive;
}

QStringList roomParticipants(quint16 port, const QByteArray &room)
{
    QStringList ids;
    const QJsonObject info = httpGet(port, "/admin/rooms/" + room).json();
    for (const QJsonValue &p : info.value("participants"_L1).toArray())
        ids.append(p.toObject().value("connectionId"_L1).toString());
    ids.sort();
    return ids;
}

QList<int> seqsOf(const TestClient &c)
{
    QList<int> out;
    for (const QString &s : valuesOf(c, u"telemedicine_chat_message"_s, u"seq"_s))
        out.append(s.toInt());
    return out;
}

} // namespace

void TestClusterProcess::initTestCase()
{
    if (!RedisServer::available())
        QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
}

void TestClusterProcess::killedInstanceLeavesAndItsClientsResumeElsewhere()
{
    const QStringList common{u"--cluster-presence-ttl"_s, u"2"_s, u"--resume-grace"_s, u"2"_s};
    QTemporaryDir dataOne, dataTwo; // each instance keeps its own audit log
    ServerBinary one, two;
    QVERIFY2(one.start(QStringList{u"--redis"_s, m_redis.url(), u"--data-dir"_s, dataOne.path()} + common),
             qPrintable(one.error()));
    // The other is told through the environment.
    qputenv("MEDRELAY_REDIS_URL", m_redis.url().toUtf8());
    const bool started = two.start(QStringList{u"--data-dir"_s, dataTwo.path()} + common);
    qunsetenv("MEDRELAY_REDIS_URL");
    QVERIFY2(started, qPrintable(two.error()));
    QTRY_COMPARE_WITH_TIMEOUT(aliveInstances(one.port()), 2, 15000);

    TestClient a, b, c;
    QVERIFY(a.open(one.wsUrl()));
    QVERIFY(b.open(two.wsUrl()));
    QVERIFY(c.open(two.wsUrl()));
    const QString ca = a.join(u"k"_s, 1, 1, u"A"_s);
    const QString cb = b.join(u"k"_s, 1, 2, u"B"_s);
    const QString cc = c.join(u"k"_s, 1, 3, u"C"_s);
    QVERIFY(!ca.isEmpty() && !cb.isEmpty() && !cc.isEmpty());
    QTRY_COMPARE(countOf(a, u"telemedicine_user_joined"_s), 2);
    a.send(chat(u"k"_s, u"m1"_s, u"a1"_s));
    QVERIFY(a.waitFor(u"ack"_s));
    b.send(chat(u"k"_s, u"from b"_s, u"b1"_s));
    const auto bAck = b.waitFor(u"ack"_s);
    QVERIFY(bAck);
    const int bSeq = bAck->value("seq"_L1).toInt();
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"m1"_s});
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"from b"_s});
    const int lastSeen = bSeq; // B saw everything up to its own message

    two.kill();
    QVERIFY(b.waitDisconnected());
    QVERIFY(c.waitDisconnected());
    // A goes on writing while B is away.
    for (int i = 2; i <= 4; ++i) {
        a.send(chat(u"k"_s, u"m%1"_s.arg(i), u"a%1"_s.arg(i)));
        QVERIFY(a.waitFor(u"ack"_s));
    }

    // B's client comes back through the surviving instance.
    TestClient back;
    QVERIFY(back.open(one.wsUrl()));
    back.send(joinMessage(u"k"_s, 1, 2, {}, lastSeen));
    const auto state = back.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QString cBack = state->value("connectionId"_L1).toString();
    // Unsure whether its last message arrived, the client sends it again:
    // the same seq, and nobody gets it twice.
    back.send(chat(u"k"_s, u"from b"_s, u"b1"_s));
    const auto retried = back.waitFor(u"ack"_s);
    QVERIFY(retried);
    QCOMPARE(retried->value("seq"_L1).toInt(), bSeq);
    a.send(chat(u"k"_s, u"m5"_s, u"a5"_s));
    QVERIFY(a.waitFor(u"ack"_s));
    QTRY_COMPARE(valuesOf(back, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"m2"_s, u"m3"_s, u"m4"_s, u"m5"_s}));
    QCOMPARE(seqsOf(back), (QList<int>{bSeq + 1, bSeq + 2, bSeq + 3, bSeq + 4}));
    QVERIFY(a.staysQuiet(u"telemedicine_chat_message"_s, 200));
    QCOMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"from b"_s});

    // C never came back: reported as left once the dead instance's presence
    // lapsed and the resume grace ran out. No ghosts remain.
    QTRY_VERIFY_WITH_TIMEOUT(valuesOf(a, u"telemedicine_user_left"_s, u"connectionId"_s).contains(cc), 20000);
    QStringList expected{ca, cBack};
    expected.sort();
    QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(one.port(), "k"), expected, 20000);
    QTRY_COMPARE_WITH_TIMEOUT(aliveInstances(one.port()), 1, 20000);
    // Each departure was announced once.
    QTest::qWait(200);
    const QStringList left = valuesOf(a, u"telemedicine_user_left"_s, u"connectionId"_s);
    QCOMPARE(left.count(cc), 1);
    QVERIFY(left.count(cb) <= 1);
}

QTEST_MAIN(TestClusterProcess)
#include "tst_cluster_process.moc"
