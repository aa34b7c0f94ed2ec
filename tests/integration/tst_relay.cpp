// Room membership and relaying over real sockets: who receives what.

#include "TestClient.h"
#include "TestServer.h"

#include <QJsonArray>
#include <QTest>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

QJsonObject roomMessage(const QString &type, const QString &room, qint64 appointment)
{
    return {{u"type"_s, type}, {u"roomId"_s, room}, {u"appointmentId"_s, static_cast<double>(appointment)}};
}

} // namespace

class TestRelay final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void joinAnnouncesAndReturnsRoomState();
    void relayKindsReachOthersOnly_data();
    void relayKindsReachOthersOnly();
    void signallingTargetsOneParticipant_data();
    void signallingTargetsOneParticipant();
    void serverOwnsIdentityFields();
    void senderMustBeMember();
    void targetMustBeInRoom();
    void leaveAndCloseAnnounceLeft();
    void oneConnectionInSeveralRooms();
    void identityIsSetOnce();
    void roomIsBoundToAppointment();
    void chatCannotForgeServerFields();
    void numericUserIdsStayNumbers();
    void repeatedJoinIsNotAnnouncedAgain();
};

void TestRelay::joinAnnouncesAndReturnsRoomState()
{
    TestServer server;
    QVERIFY2(server.started(), qPrintable(server.error()));
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));

    const QString aId = a.join(u"appointment_123"_s, 123, 1, u"Dr A"_s);
    QVERIFY(!aId.isEmpty());

    b.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"appointment_123"_s},
            {u"appointmentId"_s, 123}, {u"userId"_s, 2}, {u"userName"_s, u"Pat"_s}, {u"extra"_s, u"kept"_s}});
    const auto state = b.waitFor(u"room_state"_s);
    QVERIFY(state);
    QCOMPARE(state->value("roomId"_L1).toString(), u"appointment_123"_s);
    QCOMPARE(state->value("appointmentId"_L1).toInt(), 123);
    const QJsonArray participants = state->value("participants"_L1).toArray();
    QCOMPARE(participants.size(), 2);
    QCOMPARE(participants.at(0).toObject().value("connectionId"_L1).toString(), aId);
    QCOMPARE(participants.at(0).toObject().value("userId"_L1).toInt(), 1);

    const auto joined = a.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(joined);
    QCOMPARE(joined->value("userId"_L1).toInt(), 2);
    QCOMPARE(joined->value("userName"_L1).toString(), u"Pat"_s);
    QCOMPARE(joined->value("extra"_L1).toString(), u"kept"_s);
    QVERIFY(joined->value("timestamp"_L1).toDouble() > 0);
    QCOMPARE(joined->value("connectionId"_L1).toString(), state->value("connectionId"_L1).toString());
    // The joiner is not told about its own join.
    QVERIFY(b.staysQuiet(u"telemedicine_user_joined"_s, 100));

    auto health = server.app().admin().health(true);
    QCOMPARE(health.rooms, 1);
    QCOMPARE(health.connections, 2);
}

void TestRelay::relayKindsReachOthersOnly_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue>("payload");
    QTest::addRow("offer") << u"telemedicine_offer"_s << u"offer"_s
                           << QJsonValue(QJsonObject{{u"type"_s, u"offer"_s}, {u"sdp"_s, u"v=0"_s}});
    QTest::addRow("answer") << u"telemedicine_answer"_s << u"answer"_s
                            << QJsonValue(QJsonObject{{u"type"_s, u"answer"_s}, {u"sdp"_s, u"v=0"_s}});
    QTest::addRow("ice") << u"telemedicine_ice_candidate"_s << u"candidate"_s
                         << QJsonValue(QJsonObject{{u"candidate"_s, u"candidate:1 1 udp 1 192.0.2.1 9 typ host"_s},
                                                   {u"sdpMid"_s, u"0"_s}});
    QTest::addRow("chat") << u"telemedicine_chat_message"_s << u"message"_s << QJsonValue(u"hello"_s);
    QTest::addRow("whiteboard") << u"whiteboard_update"_s << u"data"_s
                                << QJsonValue(QJsonObject{{u"stroke"_s, QJsonArray{1, 2, 3}}});
}

void TestRelay::relayKindsReachOthersOnly()
{
    QFETCH(QString, type);
    QFETCH(QString, field);
    QFETCH(QJsonValue, payload);
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b, c, outsider;
    for (TestClient *cl : {&a, &b, &c, &outsider})
        QVERIFY(cl->open(server.wsUrl()));
    QVERIFY(!a.join(u"r1"_s, 7, 1, u"A"_s).isEmpty());
    QVERIFY(!b.join(u"r1"_s, 7, 2, u"B"_s).isEmpty());
    QVERIFY(!c.join(u"r1"_s, 7, 3, u"C"_s).isEmpty());
    QVERIFY(!outsider.join(u"r2"_s, 8, 4, u"D"_s).isEmpty());

    QJsonObject m = roomMessage(type, u"r1"_s, 7);
    m.insert(field, payload);
    m.insert(u"clientField"_s, 42);
    a.send(m);
    for (TestClient *receiver : {&b, &c}) {
        const auto got = receiver->waitFor(type);
        QVERIFY2(got, qPrintable(type));
        QCOMPARE(got->value(field), payload);
        QCOMPARE(got->value("clientField"_L1).toInt(), 42);
        QCOMPARE(got->value("userId"_L1).toInt(), 1);
        QVERIFY(got->value("timestamp"_L1).toDouble() > 0);
    }
    QVERIFY(a.staysQuiet(type, 150));
    QVERIFY(outsider.staysQuiet(type, 50));
}

void TestRelay::signallingTargetsOneParticipant_data()
{
    QTest::addColumn<bool>("byConnectionId");
    QTest::addRow("by user id") << false;
    QTest::addRow("by connection id") << true;
}

void TestRelay::signallingTargetsOneParticipant()
{
    QFETCH(bool, byConnectionId);
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b, c;
    for (TestClient *cl : {&a, &b, &c})
        QVERIFY(cl->open(server.wsUrl()));
    a.join(u"r"_s, 1, 10, u"A"_s);
    const QString bId = b.join(u"r"_s, 1, 20, u"B"_s);
    c.join(u"r"_s, 1, 30, u"C"_s);

    QJsonObject offer = roomMessage(u"telemedicine_offer"_s, u"r"_s, 1);
    offer.insert(u"offer"_s, QJsonObject{{u"type"_s, u"offer"_s}, {u"sdp"_s, u"x"_s}});
    offer.insert(u"to"_s, byConnectionId ? QJsonValue(bId) : QJsonValue(20));
    a.send(offer);
    const auto got = b.waitFor(u"telemedicine_offer"_s);
    QVERIFY(got);
    QCOMPARE(got->value("from"_L1).toString(), u"10"_s);
    QVERIFY(c.staysQuiet(u"telemedicine_offer"_s, 200));
}

void TestRelay::serverOwnsIdentityFields()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    const QString aId = a.join(u"r"_s, 1, 1, u"Alice"_s);
    b.join(u"r"_s, 1, 2, u"Bob"_s);

    QJsonObject forged = roomMessage(u"telemedicine_answer"_s, u"r"_s, 1);
    forged.insert(u"answer"_s, QJsonObject{{u"type"_s, u"answer"_s}});
    forged.insert(u"from"_s, u"2"_s);          // claims to be Bob
    forged.insert(u"userId"_s, 2);
    forged.insert(u"userName"_s, u"Bob"_s);
    forged.insert(u"timestamp"_s, 1);
    a.send(forged);
    const auto got = b.waitFor(u"telemedicine_answer"_s);
    QVERIFY(got);
    QCOMPARE(got->value("from"_L1).toString(), u"1"_s);
    QCOMPARE(got->value("fromConnectionId"_L1).toString(), aId);
    QCOMPARE(got->value("userId"_L1).toInt(), 1);
    QCOMPARE(got->value("userName"_L1).toString(), u"Alice"_s);
    QVERIFY(got->value("timestamp"_L1).toDouble() > 1e12);
}

void TestRelay::senderMustBeMember()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    b.join(u"r"_s, 1, 2, u"B"_s);
    a.join(u"other"_s, 2, 1, u"A"_s);
    QJsonObject chat = roomMessage(u"telemedicine_chat_message"_s, u"r"_s, 1);
    chat.insert(u"message"_s, u"let me in"_s);
    chat.insert(u"requestId"_s, u"q1"_s);
    a.send(chat);
    const auto err = a.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"not_member"_s);
    QCOMPARE(err->value("requestId"_L1).toString(), u"q1"_s);
    QVERIFY(b.staysQuiet(u"telemedicine_chat_message"_s, 150));
    QVERIFY(a.isConnected());
}

void TestRelay::targetMustBeInRoom()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b, elsewhere;
    for (TestClient *cl : {&a, &b, &elsewhere})
        QVERIFY(cl->open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    elsewhere.join(u"s"_s, 2, 99, u"X"_s);
    QJsonObject ice = roomMessage(u"telemedicine_ice_candidate"_s, u"r"_s, 1);
    ice.insert(u"candidate"_s, QJsonObject{{u"candidate"_s, u""_s}});
    ice.insert(u"to"_s, 99);
    a.send(ice);
    const auto err = a.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"target_not_found"_s);
    QVERIFY(b.staysQuiet(u"telemedicine_ice_candidate"_s, 100));
    QVERIFY(elsewhere.staysQuiet(u"telemedicine_ice_candidate"_s, 50));
}

void TestRelay::leaveAndCloseAnnounceLeft()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b, c;
    for (TestClient *cl : {&a, &b, &c})
        QVERIFY(cl->open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    const QString bId = b.join(u"r"_s, 1, 2, u"B"_s);
    const QString cId = c.join(u"r"_s, 1, 3, u"C"_s);

    b.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1}, {u"userId"_s, 2}});
    auto left = a.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("userId"_L1).toInt(), 2);
    QCOMPARE(left->value("connectionId"_L1).toString(), bId);
    QCOMPARE(left->value("reason"_L1).toString(), u"left"_s);
    QVERIFY(c.waitFor(u"telemedicine_user_left"_s));

    // b is no longer a member: its chat is refused, not relayed.
    QJsonObject chat = roomMessage(u"telemedicine_chat_message"_s, u"r"_s, 1);
    chat.insert(u"message"_s, u"still here?"_s);
    b.send(chat);
    QCOMPARE(b.waitFor(u"error"_s)->value("code"_L1).toString(), u"not_member"_s);

    // A closed socket counts as leaving.
    c.close();
    left = a.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("connectionId"_L1).toString(), cId);
    QCOMPARE(left->value("reason"_L1).toString(), u"disconnected"_s);
    QTRY_COMPARE(server.app().admin().health(true).roomDetails->at(0).connectionCount, 1);

    // The last member leaving removes the room.
    a.close();
    QTRY_COMPARE(server.app().admin().health(true).rooms, 0);
}

void TestRelay::oneConnectionInSeveralRooms()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient clinician, p1, p2;
    for (TestClient *cl : {&clinician, &p1, &p2})
        QVERIFY(cl->open(server.wsUrl()));
    clinician.join(u"a1"_s, 1, 100, u"Dr"_s);
    clinician.join(u"a2"_s, 2, 100, u"Dr"_s);
    p1.join(u"a1"_s, 1, 1, u"P1"_s);
    p2.join(u"a2"_s, 2, 2, u"P2"_s);
    QJsonObject chat = roomMessage(u"telemedicine_chat_message"_s, u"a2"_s, 2);
    chat.insert(u"message"_s, u"room two only"_s);
    clinician.send(chat);
    QVERIFY(p2.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(p1.staysQuiet(u"telemedicine_chat_message"_s, 150));

    clinician.close();
    QVERIFY(p1.waitFor(u"telemedicine_user_left"_s));
    QVERIFY(p2.waitFor(u"telemedicine_user_left"_s));
}

void TestRelay::identityIsSetOnce()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"r1"_s, 1, 1, u"A"_s);
    a.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r2"_s}, {u"appointmentId"_s, 2},
            {u"userId"_s, 2}, {u"userName"_s, u"Someone else"_s}});
    const auto err = a.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"identity_mismatch"_s);
    QVERIFY(!server.app().rooms().find(u"r2"_s));
}

void TestRelay::roomIsBoundToAppointment()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"appointment_123"_s, 123, 1, u"A"_s);
    b.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"appointment_123"_s},
            {u"appointmentId"_s, 456}, {u"userId"_s, 2}, {u"userName"_s, u"B"_s}});
    const auto err = b.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), u"appointment_mismatch"_s);
    QVERIFY(a.staysQuiet(u"telemedicine_user_joined"_s, 100));
}

void TestRelay::chatCannotForgeServerFields()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    const QString aId = a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    for (const QString &type : {u"telemedicine_chat_message"_s, u"whiteboard_update"_s}) {
        QJsonObject m = roomMessage(type, u"r"_s, 1);
        m.insert(type == u"whiteboard_update"_s ? u"data"_s : u"message"_s, u"x"_s);
        m.insert(u"role"_s, u"clinician"_s);
        m.insert(u"from"_s, u"2"_s);
        m.insert(u"fromConnectionId"_s, u"cFAKE"_s);
        m.insert(u"connectionId"_s, u"cFAKE"_s);
        a.send(m);
        const auto got = b.waitFor(type);
        QVERIFY(got);
        QVERIFY(!got->contains("role"_L1));
        QCOMPARE(got->value("from"_L1).toString(), u"1"_s);
        QCOMPARE(got->value("fromConnectionId"_L1).toString(), aId);
        QCOMPARE(got->value("connectionId"_L1).toString(), aId);
    }
}

void TestRelay::numericUserIdsStayNumbers()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, -5, u"Neg"_s);
    b.join(u"r"_s, 1, 9007199254740991.0, u"Max"_s);
    const auto joined = a.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(joined);
    QVERIFY(joined->value("userId"_L1).isDouble());
    QCOMPARE(joined->value("userId"_L1).toDouble(), 9007199254740991.0);
    b.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1}, {u"message"_s, u"m"_s}});
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1}, {u"message"_s, u"m"_s}});
    const auto chat = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(chat);
    QVERIFY(chat->value("userId"_L1).isDouble());
    QCOMPARE(chat->value("userId"_L1).toInt(), -5);
    // String ids stay strings.
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    c.join(u"r"_s, 1, u"007"_s, u"Str"_s);
    const auto strJoin = a.waitFor(u"telemedicine_user_joined"_s);
    QVERIFY(strJoin);
    QCOMPARE(strJoin->value("userId"_L1), QJsonValue(u"007"_s));
}

void TestRelay::repeatedJoinIsNotAnnouncedAgain()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    QVERIFY(a.waitFor(u"telemedicine_user_joined"_s));
    QVERIFY(!b.join(u"r"_s, 1, 2, u"B"_s).isEmpty()); // still answered with room_state
    QVERIFY(a.staysQuiet(u"telemedicine_user_joined"_s, 200));
    QCOMPARE(server.app().rooms().find(u"r"_s)->size(), 2);
}

QTEST_GUILESS_MAIN(TestRelay)
#include "tst_relay.moc"
