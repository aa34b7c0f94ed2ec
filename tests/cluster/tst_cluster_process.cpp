// Cluster instances as real server processes on a redis-server the test
// starts, for what needs a process of its own: an instance killed with -9,
// in a cluster of two and of three. Its participants are reported as left
// to the others (once each) within the presence TTL and the resume grace; a
// client that reconnects to another instance resumes with nothing lost and
// nothing duplicated, and its retried message is deduplicated across
// instances; the survivors keep talking meanwhile.

#include "ClusterFixture.h"
#include "ServerBinary.h"

#include <QTemporaryDir>

#include <memory>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

class TestClusterProcess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void killedInstanceLeavesAndItsClientsResumeElsewhere();
    void killedOneOfThreeTheOtherTwoGoOn();

private:
    RedisServer m_redis;
};

namespace {

// Server processes of one cluster on one redis-server, each with its own
// data directory (its own audit log). A dead instance is noticed after a
// presence TTL of 2 s, and its members wait 2 s for their clients.
class ProcessCluster final
{
public:
    explicit ProcessCluster(const RedisServer &redis) : m_redis(redis) {}
    Q_DISABLE_COPY_MOVE(ProcessCluster)

    // Starts one more instance, told of Redis by --redis or, with
    // `throughEnvironment`, by MEDRELAY_REDIS_URL. False with error() set.
    bool add(bool throughEnvironment = false)
    {
        auto instance = std::make_unique<Instance>();
        if (!instance->data.isValid()) {
            m_error = u"no temporary directory"_s;
            return false;
        }
        QStringList args{u"--data-dir"_s, instance->data.path(), u"--cluster-presence-ttl"_s, u"2"_s,
                         u"--resume-grace"_s, u"2"_s};
        if (throughEnvironment)
            qputenv("MEDRELAY_REDIS_URL", m_redis.url().toUtf8());
        else
            args << u"--redis"_s << m_redis.url();
        const bool started = instance->server.start(args);
        if (throughEnvironment)
            qunsetenv("MEDRELAY_REDIS_URL");
        if (!started) {
            m_error = instance->server.error();
            return false;
        }
        m_instances.push_back(std::move(instance));
        return true;
    }
    ServerBinary &operator[](int i) { return m_instances.at(static_cast<size_t>(i))->server; }
    [[nodiscard]] int size() const { return static_cast<int>(m_instances.size()); }
    [[nodiscard]] const QString &error() const { return m_error; }

private:
    struct Instance
    {
        QTemporaryDir data;
        ServerBinary server;
    };
    const RedisServer &m_redis;
    std::vector<std::unique_ptr<Instance>> m_instances;
    QString m_error;
};

// Sends a chat message and waits for its ack: its seq, or 0.
int sendChat(TestClient &c, const QString &room, const QString &text, const QString &clientMessageId)
{
    c.send(chat(room, text, clientMessageId));
    const auto ack = c.waitFor(u"ack"_s);
    return ack ? ack->value("seq"_L1).toInt() : 0;
}

QStringList sorted(QStringList list)
{
    list.sort();
    return list;
}

} // namespace

void TestClusterProcess::initTestCase()
{
    if (!RedisServer::available())
        QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
}

void TestClusterProcess::init()
{
    // Each test starts with a Redis that holds nothing of the previous one
    // (dead instances and their rooms included).
    QVERIFY2(m_redis.startEmpty(), qPrintable(m_redis.error()));
}

void TestClusterProcess::killedInstanceLeavesAndItsClientsResumeElsewhere()
{
    ProcessCluster cluster(m_redis);
    QVERIFY2(cluster.add(), qPrintable(cluster.error()));
    QVERIFY2(cluster.add(true), qPrintable(cluster.error())); // Redis through the environment
    ServerBinary &one = cluster[0];
    ServerBinary &two = cluster[1];
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
    QVERIFY(sendChat(a, u"k"_s, u"m1"_s, u"a1"_s) > 0);
    const int bSeq = sendChat(b, u"k"_s, u"from b"_s, u"b1"_s);
    QVERIFY(bSeq > 0);
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"m1"_s});
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"from b"_s});
    const int lastSeen = bSeq; // B saw everything up to its own message

    two.kill();
    QVERIFY(b.waitDisconnected());
    QVERIFY(c.waitDisconnected());
    // A goes on writing while B is away.
    for (int i = 2; i <= 4; ++i)
        QVERIFY(sendChat(a, u"k"_s, u"m%1"_s.arg(i), u"a%1"_s.arg(i)) > 0);

    // B's client comes back through the surviving instance.
    TestClient back;
    QVERIFY(back.open(one.wsUrl()));
    back.send(joinMessage(u"k"_s, 1, 2, {}, lastSeen));
    const auto state = back.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QString cBack = state->value("connectionId"_L1).toString();
    // Unsure whether its last message arrived, the client sends it again:
    // the same seq, and nobody gets it twice.
    QCOMPARE(sendChat(back, u"k"_s, u"from b"_s, u"b1"_s), bSeq);
    QVERIFY(sendChat(a, u"k"_s, u"m5"_s, u"a5"_s) > 0);
    QTRY_COMPARE(valuesOf(back, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"m2"_s, u"m3"_s, u"m4"_s, u"m5"_s}));
    QCOMPARE(seqsOf(back), (QList<int>{bSeq + 1, bSeq + 2, bSeq + 3, bSeq + 4}));
    QVERIFY(a.staysQuiet(u"telemedicine_chat_message"_s, 200));
    QCOMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), QStringList{u"from b"_s});

    // C never came back: reported as left once the dead instance's presence
    // lapsed and the resume grace ran out. No ghosts remain.
    QTRY_VERIFY_WITH_TIMEOUT(valuesOf(a, u"telemedicine_user_left"_s, u"connectionId"_s).contains(cc), 20000);
    QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(one.port(), "k"), sorted({ca, cBack}), 20000);
    QTRY_COMPARE_WITH_TIMEOUT(aliveInstances(one.port()), 1, 20000);
    // Each departure was announced once.
    QTest::qWait(200);
    const QStringList left = valuesOf(a, u"telemedicine_user_left"_s, u"connectionId"_s);
    QCOMPARE(left.count(cc), 1);
    QVERIFY(left.count(cb) <= 1);
}

// A room with members on three instances; one is killed. The two others
// each reap it (atomically in Redis: its members are announced as left once,
// whichever reaper got there first), keep talking meanwhile, and its client
// that reconnects to one of them resumes with nothing lost or repeated.
void TestClusterProcess::killedOneOfThreeTheOtherTwoGoOn()
{
    ProcessCluster cluster(m_redis);
    for (int i = 0; i < 3; ++i)
        QVERIFY2(cluster.add(i == 1), qPrintable(cluster.error()));
    for (int i = 0; i < 3; ++i)
        QTRY_COMPARE_WITH_TIMEOUT(aliveInstances(cluster[i].port()), 3, 15000);

    // A on the first instance, B on the second, C and D on the third.
    TestClient a, b, c, d;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[1].wsUrl()));
    QVERIFY(c.open(cluster[2].wsUrl()));
    QVERIFY(d.open(cluster[2].wsUrl()));
    const QString ca = a.join(u"t"_s, 1, 1, u"A"_s);
    const QString cb = b.join(u"t"_s, 1, 2, u"B"_s);
    const QString cc = c.join(u"t"_s, 1, 3, u"C"_s);
    const QString cd = d.join(u"t"_s, 1, 4, u"D"_s);
    QVERIFY(!ca.isEmpty() && !cb.isEmpty() && !cc.isEmpty() && !cd.isEmpty());
    QTRY_COMPARE(countOf(a, u"telemedicine_user_joined"_s), 3);
    QTRY_COMPARE(countOf(b, u"telemedicine_user_joined"_s), 2);
    QTRY_COMPARE(countOf(c, u"telemedicine_user_joined"_s), 1);
    const QStringList everyone = sorted({ca, cb, cc, cd});
    for (int i = 0; i < 3; ++i)
        QTRY_COMPARE(roomParticipants(cluster[i].port(), "t"), everyone);

    // One message from each instance, seen by everybody else.
    const int s1 = sendChat(a, u"t"_s, u"a1"_s, u"a1"_s);
    const int s2 = sendChat(b, u"t"_s, u"b1"_s, u"b1"_s);
    const int cSeq = sendChat(c, u"t"_s, u"c1"_s, u"c1"_s);
    QVERIFY(s1 > 0);
    QCOMPARE(s2, s1 + 1);
    QCOMPARE(cSeq, s2 + 1);
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"b1"_s, u"c1"_s}));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"a1"_s, u"c1"_s}));
    QTRY_COMPARE(valuesOf(c, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"a1"_s, u"b1"_s}));
    QTRY_COMPARE(valuesOf(d, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"a1"_s, u"b1"_s, u"c1"_s}));

    cluster[2].kill();
    QVERIFY(c.waitDisconnected());
    QVERIFY(d.waitDisconnected());

    // The two others keep talking, chat and signalling, without waiting for
    // the dead instance to be noticed.
    QCOMPARE(sendChat(a, u"t"_s, u"a2"_s, u"a2"_s), cSeq + 1);
    QCOMPARE(sendChat(b, u"t"_s, u"b2"_s, u"b2"_s), cSeq + 2);
    QCOMPARE(sendChat(a, u"t"_s, u"a3"_s, u"a3"_s), cSeq + 3);
    a.send(offer(u"t"_s, cb));
    QVERIFY(b.waitFor(u"telemedicine_offer"_s));
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"b1"_s, u"c1"_s, u"b2"_s}));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"a1"_s, u"c1"_s, u"a2"_s, u"a3"_s}));

    // C's client comes back through the second instance with what it saw
    // last, and retries its last message: the same seq, delivered once.
    TestClient back;
    QVERIFY(back.open(cluster[1].wsUrl()));
    back.send(joinMessage(u"t"_s, 1, 3, {}, cSeq));
    const auto state = back.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QString cBack = state->value("connectionId"_L1).toString();
    QVERIFY(!cBack.isEmpty());
    QCOMPARE(sendChat(back, u"t"_s, u"c1"_s, u"c1"_s), cSeq);
    QTRY_COMPARE(valuesOf(back, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"a2"_s, u"b2"_s, u"a3"_s}));
    QCOMPARE(seqsOf(back), (QList<int>{cSeq + 1, cSeq + 2, cSeq + 3}));
    // Then live: from each survivor to the others, and from C again.
    QCOMPARE(sendChat(b, u"t"_s, u"b3"_s, u"b3"_s), cSeq + 4);
    QCOMPARE(sendChat(back, u"t"_s, u"c2"_s, u"c2"_s), cSeq + 5);
    QCOMPARE(sendChat(a, u"t"_s, u"a4"_s, u"a4"_s), cSeq + 6);
    QTRY_COMPARE(valuesOf(back, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"a2"_s, u"b2"_s, u"a3"_s, u"b3"_s, u"a4"_s}));
    QTRY_COMPARE(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"b1"_s, u"c1"_s, u"b2"_s, u"b3"_s, u"c2"_s}));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"a1"_s, u"c1"_s, u"a2"_s, u"a3"_s, u"c2"_s, u"a4"_s}));
    QCOMPARE(seqsOf(back), (QList<int>{cSeq + 1, cSeq + 2, cSeq + 3, cSeq + 4, cSeq + 6}));

    // D never came back: both survivors reap the dead instance, and A and B
    // are each told once that D left. What remains is A, B and C's new
    // connection, on both survivors.
    QTRY_VERIFY_WITH_TIMEOUT(valuesOf(a, u"telemedicine_user_left"_s, u"connectionId"_s).contains(cd), 20000);
    QTRY_VERIFY_WITH_TIMEOUT(valuesOf(b, u"telemedicine_user_left"_s, u"connectionId"_s).contains(cd), 20000);
    const QStringList remaining = sorted({ca, cb, cBack});
    for (int i = 0; i < 2; ++i) {
        QTRY_COMPARE_WITH_TIMEOUT(roomParticipants(cluster[i].port(), "t"), remaining, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(aliveInstances(cluster[i].port()), 2, 20000);
    }
    QTest::qWait(200);
    for (const TestClient *survivor : {&a, &b}) {
        const QStringList left = valuesOf(*survivor, u"telemedicine_user_left"_s, u"connectionId"_s);
        QCOMPARE(left.count(cd), 1);
        QVERIFY(left.count(cc) <= 1);
        QVERIFY(!left.contains(ca) && !left.contains(cb) && !left.contains(cBack));
    }
    QVERIFY(!valuesOf(back, u"telemedicine_user_left"_s, u"connectionId"_s).contains(ca));
    QVERIFY(!valuesOf(back, u"telemedicine_user_left"_s, u"connectionId"_s).contains(cb));
}

QTEST_MAIN(TestClusterProcess)
#include "tst_cluster_process.moc"
