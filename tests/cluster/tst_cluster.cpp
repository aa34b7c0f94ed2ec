// Several instances sharing rooms over Redis, over real sockets: instances in
// this process on a redis-server the test starts. Every message kind across
// instances, `to` targeting (and its abuse), cluster-wide room_state and
// history, the waiting room with the host and the guest on different
// instances, the cap held when two instances admit at once, the lock,
// removal and ending by a host on another instance, a room's traffic
// reaching only the instances serving it and once per instance, the admin
// API acting everywhere and showing the whole cluster, Redis restarted
// mid-consultation, and stored messages sealed in Redis and on its channels.

#include "ClusterFixture.h"
#include "RawHttp.h"
#include "TcpRelay.h"

#include "cluster/ClusterBus.h"

#include <QJsonDocument>
#include <QNetworkRequest>
#include <QFile>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTemporaryDir>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

class TestCluster final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void everyKindCrossesInstances();
    void roomStateListsEveryone();
    void toTargetsAcrossInstances();
    void toCannotReachAnotherRoom();
    void waitingRoomAcrossInstances();
    void capHoldsAcrossInstances();
    void lockHoldsAcrossInstances();
    void hostRemovesAndEndsAcrossInstances();
    void fanOutPerRoomOncePerInstance();
    void adminActsEverywhere();
    void adminStreamFollowsRoomsElsewhere();
    void redisRestartedMidConsultation();
    void partitionedInstanceRenumbersWhatItHeld();
    void historyIsSealedInRedis();

private:
    RedisServer m_redis;
};

void TestCluster::initTestCase()
{
    if (!RedisServer::available())
        QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
}

void TestCluster::init()
{
    QVERIFY2(m_redis.startEmpty(), qPrintable(m_redis.error()));
}

void TestCluster::everyKindCrossesInstances()
{
    Cluster cluster(m_redis);
    TestServer &s1 = cluster.add();
    TestServer &s2 = cluster.add();
    QVERIFY2(s1.started() && s2.started(), qPrintable(s1.error() + s2.error()));
    QTRY_VERIFY(cluster.available());

    TestClient a, b, c;
    QVERIFY(a.open(s1.wsUrl()));
    QVERIFY(b.open(s2.wsUrl()));
    QVERIFY(c.open(s2.wsUrl()));
    const QString ca = a.join(u"r"_s, 1, 1, u"A"_s);
    QVERIFY(!ca.isEmpty());
    const QString cb = b.join(u"r"_s, 1, 2, u"B"_s);
    QVERIFY(!cb.isEmpty());
    // The join crosses: A (instance 1) hears of B (instance 2).
    const auto joined = a.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(joined);
    QCOMPARE(joined->value("connectionId"_L1).toString(), cb);
    const QString cc = c.join(u"r"_s, 1, 3, u"C"_s);
    QVERIFY(!cc.isEmpty());
    QVERIFY(a.waitFor(u"telemedicine_user_joined"_s));
    QVERIFY(b.waitFor(u"telemedicine_user_joined"_s));

    // Signalling to everyone: the others get it once, the sender never.
    for (const QString &type : {u"telemedicine_offer"_s, u"telemedicine_answer"_s, u"telemedicine_ice_candidate"_s}) {
        QJsonObject m = offer(u"r"_s);
        m.insert(u"type"_s, type);
        m.remove(u"offer"_s);
        m.insert(type == u"telemedicine_offer"_s ? u"offer"_s : type == u"telemedicine_answer"_s ? u"answer"_s
                                                                                                 : u"candidate"_s,
                 QJsonObject{{u"sdp"_s, u"x"_s}});
        a.send(m);
        const auto atB = b.waitFor(type);
        QVERIFY2(atB, qPrintable(type));
        QCOMPARE(atB->value("fromConnectionId"_L1).toString(), ca);
        QCOMPARE(atB->value("userId"_L1).toInt(), 1);
        QVERIFY(c.waitFor(type));
    }
    // Stored kinds: numbered once for the room, whatever the instance.
    a.send(chat(u"r"_s, u"hello from 1"_s, u"m1"_s));
    const auto ack = a.waitFor(u"ack"_s);
    QVERIFY(ack);
    QCOMPARE(ack->value("seq"_L1).toInt(), 1);
    const auto atB = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(atB);
    QCOMPARE(atB->value("message"_L1).toString(), u"hello from 1"_s);
    QCOMPARE(atB->value("seq"_L1).toInt(), 1);
    QVERIFY(c.waitFor(u"telemedicine_chat_message"_s));
    b.send(QJsonObject{{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, u"r"_s}, {u"data"_s, QJsonArray{1, 2}}});
    const auto board = a.waitFor(u"whiteboard_update"_s);
    QVERIFY(board);
    QCOMPARE(board->value("seq"_L1).toInt(), 2);
    QCOMPARE(board->value("data"_L1).toArray(), (QJsonArray{1, 2}));
    QVERIFY(c.waitFor(u"whiteboard_update"_s));
    c.send(QJsonObject{{u"type"_s, u"whiteboard_clear"_s}, {u"roomId"_s, u"r"_s}});
    const auto clear = a.waitFor(u"whiteboard_clear"_s);
    QVERIFY(clear);
    QCOMPARE(clear->value("seq"_L1).toInt(), 3);
    QVERIFY(b.waitFor(u"whiteboard_clear"_s));
    // Nothing came back to its sender.
    QCOMPARE(countOf(a, u"telemedicine_chat_message"_s), 0);
    QCOMPARE(countOf(b, u"whiteboard_update"_s), 0);
    QCOMPARE(countOf(c, u"whiteboard_clear"_s), 0);

    // Leaving crosses too.
    b.send(QJsonObject{{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"r"_s}});
    const auto left = a.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("connectionId"_L1).toString(), cb);
    QVERIFY(c.waitFor(u"telemedicine_user_left"_s));
    // And each message crossed once: no duplicates anywhere.
    QVERIFY(a.staysQuiet(u"telemedicine_offer"_s, 200));
    QCOMPARE(countOf(b, u"telemedicine_offer"_s), 1);
    QCOMPARE(countOf(c, u"telemedicine_chat_message"_s), 1);
}

void TestCluster::roomStateListsEveryone()
{
    Cluster cluster(m_redis);
    for (int i = 0; i < 3; ++i)
        QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient c1, c2, c3;
    QVERIFY(c1.open(cluster[0].wsUrl()));
    QVERIFY(c2.open(cluster[1].wsUrl()));
    QVERIFY(c3.open(cluster[2].wsUrl()));
    const QString id1 = c1.join(u"state"_s, 1, 1, u"One"_s);
    c1.send(chat(u"state"_s, u"before two"_s, u"b2"_s));
    QVERIFY(c1.waitFor(u"ack"_s));
    const QString id2 = c2.join(u"state"_s, 1, 2, u"Two"_s);
    c3.send(joinMessage(u"state"_s, 1, 3));
    const auto state = c3.waitFor(u"room_state"_s);
    QVERIFY(state);
    QStringList expected{id1, id2, state->value("connectionId"_L1).toString()};
    expected.sort();
    QCOMPARE(participantIds(*state), expected);
    QCOMPARE(state->value("lastSeq"_L1).toInt(), 1);
    const QJsonArray recent = state->value("recentChat"_L1).toArray();
    QCOMPARE(recent.size(), 1);
    QCOMPARE(recent.at(0).toObject().value("message"_L1).toString(), u"before two"_s);
}

void TestCluster::toTargetsAcrossInstances()
{
    Cluster cluster(m_redis);
    QVERIFY(cluster.add().started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b1, b2, x;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b1.open(cluster[1].wsUrl()));
    QVERIFY(b2.open(cluster[1].wsUrl()));
    QVERIFY(x.open(cluster[0].wsUrl()));
    a.join(u"t"_s, 1, 1, u"A"_s);
    const QString cb1 = b1.join(u"t"_s, 1, 2, u"B"_s);
    const QString cb2 = b2.join(u"t"_s, 1, 2, u"B"_s); // the same user twice
    const QString cx = x.join(u"t"_s, 1, 3, u"X"_s);
    QTRY_COMPARE(countOf(a, u"telemedicine_user_joined"_s), 3);

    // By connection id: that connection alone.
    a.send(offer(u"t"_s, cb2));
    QVERIFY(b2.waitFor(u"telemedicine_offer"_s));
    QVERIFY(b1.staysQuiet(u"telemedicine_offer"_s, 200));
    QCOMPARE(countOf(x, u"telemedicine_offer"_s), 0);
    // By user id: both of that user's connections, on the other instance.
    a.send(offer(u"t"_s, 2));
    QVERIFY(b1.waitFor(u"telemedicine_offer"_s));
    QVERIFY(b2.waitFor(u"telemedicine_offer"_s));
    QVERIFY(x.staysQuiet(u"telemedicine_offer"_s, 200));
    // From the other instance back to one on the first.
    b1.send(offer(u"t"_s, cx));
    QVERIFY(x.waitFor(u"telemedicine_offer"_s));
    QVERIFY(a.staysQuiet(u"telemedicine_offer"_s, 200));
    // Nobody by that name: target_not_found, nothing delivered.
    a.send(offer(u"t"_s, u"nobody"_s));
    const auto error = a.waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"target_not_found"_s);
    QVERIFY(b1.staysQuiet(u"telemedicine_offer"_s, 200));
    Q_UNUSED(cb1);
}

void TestCluster::toCannotReachAnotherRoom()
{
    Cluster cluster(m_redis);
    QVERIFY(cluster.add().started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b, victim;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[1].wsUrl()));
    QVERIFY(victim.open(cluster[1].wsUrl()));
    a.join(u"mine"_s, 1, 1, u"A"_s);
    b.join(u"mine"_s, 1, 2, u"B"_s);
    const QString other = victim.join(u"theirs"_s, 2, 9, u"V"_s);
    QVERIFY(!other.isEmpty());
    QTRY_COMPARE(countOf(a, u"telemedicine_user_joined"_s), 1);
    // A connection id that belongs to another room, on another instance.
    a.send(offer(u"mine"_s, other));
    const auto error = a.waitFor(u"error"_s);
    QVERIFY(error);
    QCOMPARE(error->value("code"_L1).toString(), u"target_not_found"_s);
    QVERIFY(victim.staysQuiet(u"telemedicine_offer"_s, 300));
    QCOMPARE(countOf(b, u"telemedicine_offer"_s), 0);
    // And sending into the other room is refused: not a member.
    a.send(offer(u"theirs"_s));
    const auto refused = a.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"not_member"_s);
    QVERIFY(victim.staysQuiet(u"telemedicine_offer"_s, 200));
}

void TestCluster::waitingRoomAcrossInstances()
{
    Cluster cluster(m_redis);
    for (int i = 0; i < 2; ++i)
        QVERIFY(cluster.add([](ServerConfig &c) { c.waitingRoomByDefault = true; }).started());
    QTRY_VERIFY(cluster.available());
    TestClient doctor, patient, stranger;
    QVERIFY(doctor.open(cluster[0].wsUrl()));
    QVERIFY(patient.open(cluster[1].wsUrl()));
    QVERIFY(stranger.open(cluster[1].wsUrl()));
    doctor.send(joinMessage(u"w"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    // The guest on the other instance waits; the host hears of it.
    patient.send(joinMessage(u"w"_s, 1, 2, u"patient"_s));
    QVERIFY(patient.waitFor(u"waiting"_s));
    const auto request = doctor.waitFor(u"admission_request"_s);
    QVERIFY(request);
    const QString patientId = request->value("connectionId"_L1).toString();
    QCOMPARE(request->value("userId"_L1).toInt(), 2);
    // While waiting, nothing of the room reaches the guest, and it cannot send into it.
    doctor.send(chat(u"w"_s, u"before admission"_s, u"b1"_s));
    QVERIFY(doctor.waitFor(u"ack"_s));
    doctor.send(offer(u"w"_s));
    QVERIFY(patient.staysQuiet({}, 300));
    patient.send(chat(u"w"_s, u"let me in"_s));
    const auto refused = patient.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"not_member"_s);

    doctor.send(QJsonObject{{u"type"_s, u"admit"_s}, {u"roomId"_s, u"w"_s}, {u"connectionId"_s, patientId}});
    QVERIFY(patient.waitFor(u"admitted"_s));
    const auto state = patient.waitFor(u"room_state"_s);
    QVERIFY(state);
    QCOMPARE(state->value("participants"_L1).toArray().size(), 2);
    const auto joined = doctor.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(joined);
    QCOMPARE(joined->value("connectionId"_L1).toString(), patientId);
    patient.send(chat(u"w"_s, u"admitted now"_s));
    const auto atDoctor = doctor.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(atDoctor);
    QCOMPARE(atDoctor->value("message"_L1).toString(), u"admitted now"_s);

    // Denied from one instance, the guest on the other is told and stays out.
    stranger.send(joinMessage(u"w"_s, 1, 3, u"patient"_s));
    QVERIFY(stranger.waitFor(u"waiting"_s));
    const auto second = doctor.waitFor(u"admission_request"_s);
    QVERIFY(second);
    doctor.send(QJsonObject{{u"type"_s, u"deny"_s},
                            {u"roomId"_s, u"w"_s},
                            {u"connectionId"_s, second->value("connectionId"_L1).toString()}});
    QVERIFY(stranger.waitFor(u"denied"_s));
    doctor.send(chat(u"w"_s, u"after"_s));
    QVERIFY(patient.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(stranger.staysQuiet(u"telemedicine_chat_message"_s, 200));
    // Both instances agree on who is in and who waits.
    for (int i = 0; i < 2; ++i) {
        QTRY_COMPARE(cluster[i].app().rooms().find(u"w"_s)->size(), 2);
        QTRY_VERIFY(cluster[i].app().rooms().find(u"w"_s)->waiting().isEmpty());
    }
}

void TestCluster::capHoldsAcrossInstances()
{
    Cluster cluster(m_redis);
    for (int i = 0; i < 2; ++i)
        QVERIFY(cluster.add([](ServerConfig &c) { c.maxParticipantsPerRoom = 2; }).started());
    QTRY_VERIFY(cluster.available());
    TestClient first, x, y;
    QVERIFY(first.open(cluster[0].wsUrl()));
    QVERIFY(x.open(cluster[0].wsUrl()));
    QVERIFY(y.open(cluster[1].wsUrl()));
    QVERIFY(!first.join(u"cap"_s, 1, 1, u"First"_s).isEmpty());
    // One place left, asked for at once from both instances: exactly one gets it.
    x.send(joinMessage(u"cap"_s, 1, 2));
    y.send(joinMessage(u"cap"_s, 1, 3));
    const auto outcome = [](TestClient &c) {
        for (const QJsonObject &m : c.received()) {
            const QString type = m.value("type"_L1).toString();
            if (type == u"room_state"_s)
                return u"in"_s;
            if (type == u"error"_s)
                return m.value("code"_L1).toString();
        }
        return QString();
    };
    QTRY_VERIFY(!outcome(x).isEmpty() && !outcome(y).isEmpty());
    QStringList outcomes{outcome(x), outcome(y)};
    outcomes.sort();
    QCOMPARE(outcomes, (QStringList{u"in"_s, u"room_full"_s}));
    // The instance of the first member sees the room full, nobody past the cap.
    QTRY_COMPARE(cluster[0].app().rooms().find(u"cap"_s)->size(), 2);
    QVERIFY(first.staysQuiet(u"telemedicine_user_left"_s, 200));
    QCOMPARE(countOf(first, u"telemedicine_user_joined"_s), 1);
}

void TestCluster::lockHoldsAcrossInstances()
{
    Cluster cluster(m_redis);
    QVERIFY(cluster.add().started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient doctor, patient;
    QVERIFY(doctor.open(cluster[0].wsUrl()));
    QVERIFY(patient.open(cluster[1].wsUrl()));
    doctor.send(joinMessage(u"locked"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    doctor.send(QJsonObject{{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"locked"_s}, {u"locked"_s, true}});
    QVERIFY(doctor.waitFor(u"room_settings_changed"_s));
    // Locked on one instance, the guest on the other is refused.
    patient.send(joinMessage(u"locked"_s, 1, 2, u"patient"_s));
    const auto refused = patient.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"room_locked"_s);
    QVERIFY(doctor.staysQuiet(u"telemedicine_user_joined"_s, 200));
    // Unlocked, it gets in.
    doctor.send(QJsonObject{{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"locked"_s}, {u"locked"_s, false}});
    QVERIFY(doctor.waitFor(u"room_settings_changed"_s));
    patient.send(joinMessage(u"locked"_s, 1, 2, u"patient"_s));
    QVERIFY(patient.waitFor(u"room_state"_s));
    QVERIFY(doctor.waitFor(u"telemedicine_user_joined"_s));
}

void TestCluster::hostRemovesAndEndsAcrossInstances()
{
    Cluster cluster(m_redis);
    QVERIFY(cluster.add().started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient doctor, guest, other, late;
    QVERIFY(doctor.open(cluster[0].wsUrl()));
    QVERIFY(guest.open(cluster[1].wsUrl()));
    QVERIFY(other.open(cluster[1].wsUrl()));
    QVERIFY(late.open(cluster[1].wsUrl()));
    doctor.send(joinMessage(u"appointment_5"_s, 5, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    const QString guestId = guest.join(u"appointment_5"_s, 5, 2, u"G"_s);
    other.join(u"appointment_5"_s, 5, 3, u"O"_s);
    QTRY_COMPARE(countOf(doctor, u"telemedicine_user_joined"_s), 2);

    // Removed by the host on the other instance: out, told why, and kept out there.
    doctor.send(QJsonObject{{u"type"_s, u"remove_participant"_s},
                            {u"roomId"_s, u"appointment_5"_s},
                            {u"connectionId"_s, guestId}});
    const auto removed = guest.waitFor(u"removed"_s);
    QVERIFY(removed);
    QCOMPARE(removed->value("by"_L1).toInt(), 1);
    const auto left = other.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("reason"_L1).toString(), u"removed"_s);
    QCOMPARE(left->value("connectionId"_L1).toString(), guestId);
    guest.send(joinMessage(u"appointment_5"_s, 5, 2));
    const auto refused = guest.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"forbidden"_s);

    // Ended by the host: everyone, on both instances, and later joins are refused everywhere.
    doctor.send(QJsonObject{{u"type"_s, u"end_consultation"_s}, {u"roomId"_s, u"appointment_5"_s}});
    for (TestClient *c : {&doctor, &other}) {
        const auto ended = c->waitFor(u"consultation_ended"_s);
        QVERIFY(ended);
        QCOMPARE(ended->value("endedBy"_L1).toInt(), 1);
    }
    late.send(joinMessage(u"appointment_5"_s, 5, 4));
    const auto closed = late.waitFor(u"error"_s);
    QVERIFY(closed);
    QCOMPARE(closed->value("code"_L1).toString(), u"consultation_ended"_s);
    QVERIFY(other.isConnected());
}

void TestCluster::fanOutPerRoomOncePerInstance()
{
    Cluster cluster(m_redis);
    for (int i = 0; i < 3; ++i)
        QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b1, b2, elsewhere;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b1.open(cluster[1].wsUrl()));
    QVERIFY(b2.open(cluster[1].wsUrl()));
    QVERIFY(elsewhere.open(cluster[2].wsUrl()));
    a.join(u"fan"_s, 1, 1, u"A"_s);
    b1.join(u"fan"_s, 1, 2, u"B"_s);
    b2.join(u"fan"_s, 1, 3, u"C"_s);
    elsewhere.join(u"other"_s, 1, 4, u"D"_s);
    QTRY_COMPARE(countOf(a, u"telemedicine_user_joined"_s), 2);
    QTRY_COMPARE(countOf(b1, u"telemedicine_user_joined"_s), 1);
    QTest::qWait(100); // the joins' own traffic has arrived everywhere
    const qint64 second = cluster[1].app().cluster()->counters().received;
    const qint64 third = cluster[2].app().cluster()->counters().received;

    for (int i = 0; i < 5; ++i)
        a.send(offer(u"fan"_s));
    a.send(chat(u"fan"_s, u"one message"_s));
    QTRY_COMPARE(countOf(b1, u"telemedicine_offer"_s), 5);
    QTRY_COMPARE(countOf(b2, u"telemedicine_offer"_s), 5);
    QVERIFY(b1.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(b2.waitFor(u"telemedicine_chat_message"_s));
    QTest::qWait(100);
    // Two recipients there, yet each message crossed to their instance once.
    QCOMPARE(cluster[1].app().cluster()->counters().received - second, 6);
    // An instance without members in the room heard none of it.
    QCOMPARE(cluster[2].app().cluster()->counters().received - third, 0);
    QCOMPARE(countOf(elsewhere, u"telemedicine_offer"_s), 0);
}

void TestCluster::adminActsEverywhere()
{
    static const QByteArray token = "cluster-admin-token-0123456789abcdef";
    Cluster cluster(m_redis);
    cluster.addWithAdminToken(2, QString::fromLatin1(token));
    QTRY_VERIFY(cluster.available());
    TestClient a, b, c, d;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[1].wsUrl()));
    QVERIFY(c.open(cluster[0].wsUrl()));
    QVERIFY(d.open(cluster[1].wsUrl()));
    a.join(u"closing"_s, 1, 1, u"A"_s);
    b.join(u"closing"_s, 1, 2, u"B"_s);
    c.join(u"ending"_s, 2, 3, u"C"_s);
    d.join(u"staying"_s, 3, 4, u"D"_s);
    QVERIFY(a.waitFor(u"telemedicine_user_joined"_s));

    // /stats of either instance shows both instances and every room.
    const auto instancesOf = [](const QJsonObject &stats) {
        QStringList names;
        for (const QJsonValue &i : stats.value("cluster"_L1).toObject().value("instances"_L1).toArray()) {
            if (i.toObject().value("alive"_L1).toBool())
                names.append(i.toObject().value("id"_L1).toString());
        }
        names.sort();
        return names;
    };
    QStringList ids{cluster[0].app().cluster()->instanceId(), cluster[1].app().cluster()->instanceId()};
    ids.sort();
    QTRY_COMPARE(instancesOf(httpGet(cluster[1].port(), "/stats", token).json()), ids);
    QTRY_COMPARE(httpGet(cluster[1].port(), "/stats", token).json().value("cluster"_L1).toObject().value("rooms"_L1).toInt(),
                 3);
    // A room served only by the other instance, with where each participant is.
    QTRY_COMPARE(httpGet(cluster[1].port(), "/admin/rooms/ending", token).status, 200);
    const QJsonObject ending = httpGet(cluster[1].port(), "/admin/rooms/ending", token).json();
    const QJsonArray participants = ending.value("participants"_L1).toArray();
    QCOMPARE(participants.size(), 1);
    QCOMPARE(participants.at(0).toObject().value("instance"_L1).toString(), cluster[0].app().cluster()->instanceId());

    // Closed from one instance, the room closes on both.
    const auto closed = httpPost(cluster[0].port(), "/admin/rooms/closing/close", {{u"reason"_s, u"over"_s}}, token);
    QCOMPARE(closed.status, 200);
    QVERIFY(closed.json().value("ok"_L1).toBool());
    for (TestClient *client : {&a, &b}) {
        const auto note = client->waitFor(u"room_closed"_s);
        QVERIFY(note);
        QCOMPARE(note->value("reason"_L1).toString(), u"over"_s);
    }
    QTRY_VERIFY(!cluster[1].app().rooms().find(u"closing"_s));
    b.send(chat(u"closing"_s, u"still here?"_s));
    const auto refused = b.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"not_member"_s);

    // Ended from the instance that has nobody in it: ended where its member is.
    const auto ended = httpPost(cluster[1].port(), "/admin/rooms/ending/end", {}, token);
    QCOMPARE(ended.status, 200);
    QVERIFY(ended.json().value("ok"_L1).toBool());
    QVERIFY(c.waitFor(u"consultation_ended"_s));
    // The other rooms go on.
    QVERIFY(d.staysQuiet(u"room_closed"_s, 200));
    QVERIFY(cluster[1].app().rooms().find(u"staying"_s));

    // A connection held by the other instance, disconnected from this one.
    const QString cd = cluster[1].app().rooms().find(u"staying"_s)->members().first().connectionId;
    const auto kicked = httpPost(cluster[0].port(), "/admin/connections/" + cd.toUtf8() + "/disconnect",
                                 {{u"reason"_s, u"policy"_s}}, token);
    QCOMPARE(kicked.status, 200);
    QVERIFY(kicked.json().value("ok"_L1).toBool());
    QVERIFY(d.waitDisconnected());
    QCOMPARE(d.closeCode(), 4003);
    QVERIFY(a.isConnected() && b.isConnected() && c.isConnected());
}

namespace {

// The changes of one kind an admin stream received, in order.
QList<QJsonObject> streamChanges(const TestClient &console, const QString &change, const QString &roomId)
{
    QList<QJsonObject> out;
    for (const QJsonObject &m : console.received()) {
        if (m.value("type"_L1).toString() == "change"_L1 && m.value("change"_L1).toString() == change
            && m.value("roomId"_L1).toString() == roomId)
            out.append(m);
    }
    return out;
}

} // namespace

void TestCluster::adminStreamFollowsRoomsElsewhere()
{
    static const QByteArray token = "cluster-stream-token-0123456789abcdef";
    Cluster cluster(m_redis);
    cluster.addWithAdminToken(2, QString::fromLatin1(token));
    QTRY_VERIFY(cluster.available());
    const QString there = cluster[1].app().cluster()->instanceId();
    QNetworkRequest bearer;
    bearer.setRawHeader("Authorization", "Bearer " + token);
    const QUrl stream(u"ws://127.0.0.1:%1/admin/ws"_s.arg(cluster[0].port()));

    // A room served only by the second instance: the first one's console
    // gets it whole, with the instance holding each member.
    TestClient a, b, here;
    QVERIFY(a.open(cluster[1].wsUrl()));
    QVERIFY(b.open(cluster[1].wsUrl()));
    QVERIFY(here.open(cluster[0].wsUrl()));
    const QString ca = a.join(u"far"_s, 1, 1, u"A"_s);
    TestClient console;
    QVERIFY(console.open(stream, 5000, bearer));
    QVERIFY(console.waitFor(u"snapshot"_s));
    QTRY_VERIFY_WITH_TIMEOUT(!streamChanges(console, u"room_elsewhere"_s, u"far"_s).isEmpty(), 15000);
    QJsonObject room = streamChanges(console, u"room_elsewhere"_s, u"far"_s).last().value("room"_L1).toObject();
    QCOMPARE(connectionIds(room.value("participants"_L1).toArray()), QStringList{ca});
    QCOMPARE(room.value("participants"_L1).toArray().first().toObject().value("instance"_L1).toString(), there);

    // A second member there: the room again, whole.
    const QString cb = b.join(u"far"_s, 1, 2, u"B"_s);
    QStringList both{ca, cb};
    both.sort();
    QTRY_VERIFY_WITH_TIMEOUT(connectionIds(streamChanges(console, u"room_elsewhere"_s, u"far"_s)
                                               .last().value("room"_L1).toObject().value("participants"_L1).toArray())
                                 == both,
                             15000);
    // A console that connects now has it in its snapshot.
    TestClient late;
    QVERIFY(late.open(stream, 5000, bearer));
    const auto snapshot = late.waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    bool listed = false;
    for (const QJsonValue &r : snapshot->value("rooms"_L1).toArray()) {
        if (r.toObject().value("id"_L1).toString() == "far"_L1)
            listed = connectionIds(r.toObject().value("participants"_L1).toArray()) == both;
    }
    QVERIFY(listed);

    // Served here too: it goes on as one of this instance's rooms.
    here.join(u"far"_s, 1, 3, u"H"_s);
    QTRY_COMPARE(streamChanges(console, u"room_opened"_s, u"far"_s).size(), 1);
    // Gone everywhere: closed, once.
    const QJsonObject leave{{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"far"_s}};
    here.send(leave);
    a.send(leave);
    b.send(leave);
    QTRY_VERIFY_WITH_TIMEOUT(!streamChanges(console, u"room_closed"_s, u"far"_s).isEmpty(), 15000);
    QVERIFY(console.staysQuiet(u"snapshot"_s, 4500)); // two more directory reads
    // What the console was told ends with the room closed.
    bool open = false;
    for (const QJsonObject &m : console.received()) {
        if (m.value("roomId"_L1).toString() != "far"_L1)
            continue;
        const QString change = m.value("change"_L1).toString();
        if (change == "room_elsewhere"_L1 || change == "room_opened"_L1)
            open = true;
        else if (change == "room_closed"_L1)
            open = false;
    }
    QVERIFY(!open);
}

void TestCluster::redisRestartedMidConsultation()
{
    Cluster cluster(m_redis);
    QVERIFY(cluster.add([](ServerConfig &c) { c.clusterOutageMessages = 2; }).started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b, c, d, e;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[0].wsUrl()));
    QVERIFY(c.open(cluster[0].wsUrl()));
    QVERIFY(d.open(cluster[1].wsUrl()));
    QVERIFY(e.open(cluster[1].wsUrl()));
    a.join(u"local"_s, 1, 1, u"A"_s);
    const QString cb = b.join(u"local"_s, 1, 2, u"B"_s);
    const QString cc = c.join(u"split"_s, 1, 3, u"C"_s);
    const QString cd = d.join(u"split"_s, 1, 4, u"D"_s);
    const QString ce = e.join(u"split"_s, 1, 6, u"E"_s);
    QTRY_COMPARE(countOf(c, u"telemedicine_user_joined"_s), 2);
    c.send(chat(u"split"_s, u"before"_s, u"s1"_s));
    QVERIFY(c.waitFor(u"ack"_s));
    QVERIFY(d.waitFor(u"telemedicine_chat_message"_s));

    m_redis.stop();
    // Both instances say so.
    for (int i = 0; i < 2; ++i) {
        QTRY_COMPARE_WITH_TIMEOUT(httpGet(cluster[i].port(), "/health").json().value("status"_L1).toString(),
                                  u"degraded"_s, 15000);
        QCOMPARE(httpGet(cluster[i].port(), "/health").status, 200);
        QVERIFY(httpGet(cluster[i].port(), "/metrics").body.contains("medrelay_cluster_available 0\n"));
    }
    // A room whose members are all here keeps its signalling.
    a.send(offer(u"local"_s, cb));
    QVERIFY(b.waitFor(u"telemedicine_offer"_s));
    // ... and its chat: numbered here, after the last number it knew,
    // delivered at once, and kept until Redis is back.
    a.send(chat(u"local"_s, u"while down"_s, u"d1"_s));
    const auto downAck = a.waitFor(u"ack"_s);
    QVERIFY(downAck);
    QCOMPARE(downAck->value("seq"_L1).toInt(), 1);
    const auto downChat = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(downChat);
    QCOMPARE(downChat->value("seq"_L1).toInt(), 1);
    QCOMPARE(downChat->value("message"_L1).toString(), u"while down"_s);
    // A retry is recognised as such.
    a.send(chat(u"local"_s, u"while down"_s, u"d1"_s));
    QTRY_COMPARE(countOf(a, u"ack"_s), 2);
    QCOMPARE(a.received().last().value("seq"_L1).toInt(), 1);
    a.send(chat(u"local"_s, u"still down"_s, u"d2"_s));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"2"_s}));
    // As many as --cluster-outage-messages; the next is refused, not lost silently.
    a.send(chat(u"local"_s, u"one too many"_s, u"d5"_s));
    const auto full = a.waitFor(u"error"_s);
    QVERIFY(full);
    QCOMPARE(full->value("code"_L1).toString(), u"history_unavailable"_s);
    // A room with members on the other instance cannot number its messages
    // alone: refused with a clear error, not lost silently.
    c.send(chat(u"split"_s, u"while down"_s, u"d3"_s));
    const auto refused = c.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"history_unavailable"_s);
    // A join that needs the shared state is refused, the socket stays open.
    TestClient late;
    QVERIFY(late.open(cluster[1].wsUrl()));
    late.send(joinMessage(u"split"_s, 1, 5));
    const auto lateError = late.waitFor(u"error"_s);
    QVERIFY(lateError);
    QCOMPARE(lateError->value("code"_L1).toString(), u"cluster_unavailable"_s);
    QVERIFY(late.isConnected());
    // A member leaves meanwhile: at once on its instance, told to the others later.
    e.send(QJsonObject{{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"split"_s}});
    QTRY_COMPARE(cluster[1].app().rooms().find(u"split"_s)->size(), 2); // C and D

    // Redis back (what it held is kept): healthy again, the room recovers.
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 20000);
    for (int i = 0; i < 2; ++i) {
        QTRY_COMPARE_WITH_TIMEOUT(httpGet(cluster[i].port(), "/health").json().value("status"_L1).toString(),
                                  u"healthy"_s, 15000);
    }
    c.send(chat(u"split"_s, u"after"_s, u"s2"_s));
    const auto ack = c.waitFor(u"ack"_s);
    QVERIFY(ack);
    QCOMPARE(ack->value("seq"_L1).toInt(), 2); // the room's numbering went on
    QTRY_COMPARE(valuesOf(d, u"telemedicine_chat_message"_s, u"message"_s), (QStringList{u"before"_s, u"after"_s}));
    // Presence came back whole: a newcomer sees both members.
    late.send(joinMessage(u"split"_s, 1, 5));
    const auto state = late.waitFor(u"room_state"_s);
    QVERIFY(state);
    QStringList expected{cc, cd, state->value("connectionId"_L1).toString()};
    expected.sort();
    QCOMPARE(participantIds(*state), expected);
    QVERIFY(valuesOf(c, u"telemedicine_user_left"_s, u"connectionId"_s).contains(ce));
    QVERIFY(!participantIds(*state).contains(ce));

    // What the local room said while Redis was down is in the shared history
    // under the numbers its members saw, and the numbering goes on from there.
    a.send(chat(u"local"_s, u"after"_s, u"d4"_s));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"2"_s, u"3"_s}));
    TestClient reader;
    QVERIFY(joinFromStart(reader, cluster[1].wsUrl(), u"local"_s, 7));
    QTRY_COMPARE(valuesOf(reader, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"while down"_s, u"still down"_s, u"after"_s}));
    QCOMPARE(valuesOf(reader, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"2"_s, u"3"_s}));
}

void TestCluster::partitionedInstanceRenumbersWhatItHeld()
{
    // The first instance reaches Redis through a relay the test cuts; the
    // second reaches it directly and goes on.
    TcpRelay relay(m_redis.port());
    QVERIFY(relay.start());
    const QString through = u"redis://127.0.0.1:%1/0"_s.arg(relay.port());
    Cluster cluster(m_redis);
    QVERIFY(cluster.add([&through](ServerConfig &c) { c.redisUrl = through; }).started());
    QVERIFY(cluster.add().started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b, c;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[0].wsUrl()));
    QVERIFY(c.open(cluster[1].wsUrl()));
    const QString ca = a.join(u"cut"_s, 1, 1, u"A"_s);
    b.join(u"cut"_s, 1, 2, u"B"_s);
    a.send(chat(u"cut"_s, u"one"_s, u"p1"_s));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"seq"_s), QStringList{u"1"_s});

    relay.cut();
    QTRY_VERIFY_WITH_TIMEOUT(!cluster[0].app().cluster()->available(), 15000);
    QVERIFY(cluster[1].app().cluster()->available());
    // Served alone: held under the next number.
    a.send(chat(u"cut"_s, u"two"_s, u"p2"_s));
    QTRY_COMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"2"_s}));
    // Meanwhile the other instance takes a member into the room and numbers
    // a message of its own: number 2 is taken twice.
    c.send(joinMessage(u"cut"_s, 1, 3, {}, 0));
    QVERIFY(c.waitFor(u"room_state"_s));
    c.send(chat(u"cut"_s, u"three"_s, u"p3"_s));
    const auto cAck = c.waitFor(u"ack"_s);
    QVERIFY(cAck);
    QCOMPARE(cAck->value("seq"_L1).toInt(), 2);

    // The partition heals: what was held is stored after the other
    // instance's message under a new number; nothing is lost, and the
    // members here get both under the shared numbers.
    QVERIFY(relay.restore());
    QTRY_VERIFY_WITH_TIMEOUT(cluster.available(), 20000);
    QTRY_COMPARE_WITH_TIMEOUT(valuesOf(c, u"telemedicine_chat_message"_s, u"message"_s),
                              (QStringList{u"one"_s, u"two"_s}), 15000); // "one" replayed at its join
    QCOMPARE(valuesOf(c, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"3"_s}));
    QTRY_COMPARE_WITH_TIMEOUT(valuesOf(b, u"telemedicine_chat_message"_s, u"message"_s),
                              (QStringList{u"one"_s, u"two"_s, u"three"_s, u"two"_s}), 15000);
    QCOMPARE(valuesOf(b, u"telemedicine_chat_message"_s, u"seq"_s),
             (QStringList{u"1"_s, u"2"_s, u"2"_s, u"3"_s}));
    QTRY_VERIFY(valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s).contains(u"three"_s));
    QVERIFY(!valuesOf(a, u"telemedicine_chat_message"_s, u"message"_s).contains(u"two"_s));
    TestClient reader;
    QVERIFY(joinFromStart(reader, cluster[1].wsUrl(), u"cut"_s, 4));
    QTRY_COMPARE(valuesOf(reader, u"telemedicine_chat_message"_s, u"message"_s),
                 (QStringList{u"one"_s, u"three"_s, u"two"_s}));
    QCOMPARE(valuesOf(reader, u"telemedicine_chat_message"_s, u"seq"_s), (QStringList{u"1"_s, u"2"_s, u"3"_s}));
    QCOMPARE(valuesOf(reader, u"telemedicine_chat_message"_s, u"fromConnectionId"_s).last(), ca);
}

namespace {

// Everything Redis holds, as bytes: every value of every key.
QByteArray flatten(const QVariant &v)
{
    if (v.typeId() == QMetaType::QVariantList) {
        QByteArray out;
        for (const QVariant &item : v.toList())
            out += flatten(item) + '\n';
        return out;
    }
    return v.toByteArray();
}

QByteArray redisContents(const RedisServer &redis)
{
    QByteArray out;
    for (const QVariant &key : redis.command({"KEYS", "*"}).toList()) {
        const QByteArray k = key.toByteArray();
        const QByteArray type = redis.command({"TYPE", k}).toByteArray();
        QVariant v;
        if (type == "string")
            v = redis.command({"GET", k});
        else if (type == "hash")
            v = redis.command({"HGETALL", k});
        else if (type == "stream")
            v = redis.command({"XRANGE", k, "-", "+"});
        else if (type == "list")
            v = redis.command({"LRANGE", k, "0", "-1"});
        else if (type == "set")
            v = redis.command({"SMEMBERS", k});
        else if (type == "zset")
            v = redis.command({"ZRANGE", k, "0", "-1"});
        out += k + '\n' + flatten(v) + '\n';
    }
    return out;
}

} // namespace

void TestCluster::historyIsSealedInRedis()
{
    QTemporaryDir dir;
    const QString keyFile = dir.filePath(u"history.key"_s);
    QFile key(keyFile);
    QVERIFY(key.open(QIODevice::WriteOnly));
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), 8);
    key.write(bytes);
    key.close();
    QVERIFY(QFile::setPermissions(keyFile, QFile::ReadOwner | QFile::WriteOwner));

    // A listener on every channel sees what crosses between the instances.
    QTcpSocket listener;
    listener.connectToHost(QHostAddress::LocalHost, m_redis.port());
    QVERIFY(listener.waitForConnected(5000));
    listener.write("PSUBSCRIBE *\r\n");
    QByteArray heard;
    connect(&listener, &QTcpSocket::readyRead, this, [&] { heard += listener.readAll(); });

    Cluster cluster(m_redis);
    for (int i = 0; i < 2; ++i)
        QVERIFY(cluster.add([&](ServerConfig &c) { c.historyKeyFile = keyFile; }).started());
    QTRY_VERIFY(cluster.available());
    TestClient a, b, late;
    QVERIFY(a.open(cluster[0].wsUrl()));
    QVERIFY(b.open(cluster[1].wsUrl()));
    QVERIFY(late.open(cluster[1].wsUrl()));
    a.join(u"sealed"_s, 1, 1, u"A"_s);
    b.join(u"sealed"_s, 1, 2, u"B"_s);
    a.send(chat(u"sealed"_s, u"plaintext-marker-7f3a"_s, u"s1"_s));
    QVERIFY(a.waitFor(u"ack"_s));
    a.send(QJsonObject{{u"type"_s, u"whiteboard_update"_s},
                       {u"roomId"_s, u"sealed"_s},
                       {u"data"_s, QJsonObject{{u"stroke"_s, u"drawing-marker-91c2"_s}}}});
    // Opened again on the other instance, live and from the stored history.
    const auto atB = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(atB);
    QCOMPARE(atB->value("message"_L1).toString(), u"plaintext-marker-7f3a"_s);
    QVERIFY(b.waitFor(u"whiteboard_update"_s));
    late.send(joinMessage(u"sealed"_s, 1, 3));
    const auto state = late.waitFor(u"room_state"_s);
    QVERIFY(state);
    const QJsonArray recent = state->value("recentChat"_L1).toArray();
    QCOMPARE(recent.size(), 1);
    QCOMPARE(recent.at(0).toObject().value("message"_L1).toString(), u"plaintext-marker-7f3a"_s);

    // Neither Redis nor its channels ever held the text.
    QTRY_VERIFY(heard.contains("sealed"));
    const QByteArray stored = redisContents(m_redis);
    QVERIFY(stored.contains("sealed")); // the room's keys are there
    for (const QByteArray &marker : {QByteArray("plaintext-marker-7f3a"), QByteArray("drawing-marker-91c2")}) {
        QVERIFY2(!stored.contains(marker), marker.constData());
        QVERIFY2(!heard.contains(marker), marker.constData());
    }
}

QTEST_MAIN(TestCluster)
#include "tst_cluster.moc"
