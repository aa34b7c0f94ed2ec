// Every malformed or refused message gets a typed error naming the problem,
// and the connection keeps working afterwards.

#include "TestClient.h"
#include "TestServer.h"

#include <QTest>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

class TestErrors final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void badInputGetsTypedError_data();
    void badInputGetsTypedError();
    void connectionSurvivesErrors();
    void binaryJsonIsAccepted();

private:
    std::unique_ptr<TestServer> m_server;
};

void TestErrors::initTestCase()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->started());
}

void TestErrors::badInputGetsTypedError_data()
{
    QTest::addColumn<QString>("frame");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("mentions");

    QTest::addRow("malformed json") << u"{\"type\": \"telemedicine_chat_message\","_s << u"invalid_json"_s << u"offset"_s;
    QTest::addRow("not an object") << u"[1,2,3]"_s << u"invalid_message"_s << u"object"_s;
    QTest::addRow("missing type") << u"{\"roomId\":\"r\"}"_s << u"missing_field"_s << u"type"_s;
    QTest::addRow("type not a string") << u"{\"type\":5}"_s << u"invalid_field"_s << u"type"_s;
    QTest::addRow("unknown type") << u"{\"type\":\"telemedicine_teleport\"}"_s << u"unknown_type"_s << u"telemedicine_teleport"_s;
    QTest::addRow("server-only type") << u"{\"type\":\"room_state\"}"_s << u"unknown_type"_s << u"room_state"_s;
    QTest::addRow("join without roomId")
        << u"{\"type\":\"telemedicine_user_joined\",\"appointmentId\":1,\"userId\":1}"_s << u"missing_field"_s << u"roomId"_s;
    QTest::addRow("join without appointment")
        << u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"r\",\"userId\":1}"_s << u"missing_field"_s << u"appointmentId"_s;
    QTest::addRow("join without user")
        << u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"r\",\"appointmentId\":1}"_s << u"missing_field"_s << u"userId"_s;
    QTest::addRow("bad room id")
        << u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"a b/../c\",\"appointmentId\":1,\"userId\":1}"_s
        << u"invalid_field"_s << u"roomId"_s;
    QTest::addRow("fractional appointment")
        << u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"r\",\"appointmentId\":1.5,\"userId\":1}"_s
        << u"invalid_field"_s << u"appointmentId"_s;
    QTest::addRow("user id object")
        << u"{\"type\":\"telemedicine_user_joined\",\"roomId\":\"r\",\"appointmentId\":1,\"userId\":{}}"_s
        << u"invalid_field"_s << u"userId"_s;
    QTest::addRow("offer without offer")
        << u"{\"type\":\"telemedicine_offer\",\"roomId\":\"r\",\"appointmentId\":1}"_s << u"missing_field"_s << u"offer"_s;
    QTest::addRow("offer not an object")
        << u"{\"type\":\"telemedicine_offer\",\"roomId\":\"r\",\"appointmentId\":1,\"offer\":\"sdp\"}"_s
        << u"invalid_field"_s << u"offer"_s;
    QTest::addRow("chat not a string")
        << u"{\"type\":\"telemedicine_chat_message\",\"roomId\":\"r\",\"appointmentId\":1,\"message\":7}"_s
        << u"invalid_field"_s << u"message"_s;
    QTest::addRow("whiteboard without data")
        << u"{\"type\":\"whiteboard_update\",\"roomId\":\"r\"}"_s << u"missing_field"_s << u"data"_s;
    QTest::addRow("to of wrong type")
        << u"{\"type\":\"telemedicine_answer\",\"roomId\":\"r\",\"appointmentId\":1,\"answer\":{},\"to\":[1]}"_s
        << u"invalid_field"_s << u"to"_s;
    QTest::addRow("not a member")
        << u"{\"type\":\"telemedicine_user_left\",\"roomId\":\"nowhere\"}"_s << u"not_member"_s << u"nowhere"_s;
}

void TestErrors::badInputGetsTypedError()
{
    QFETCH(QString, frame);
    QFETCH(QString, code);
    QFETCH(QString, mentions);
    const auto errorCode = medrelay::protocol::errorFromWire(code);
    QVERIFY(errorCode);
    // The server is shared by every row: the row's own error is the one the
    // count gains while it runs.
    const qint64 before = m_server->app().metrics().errors(*errorCode);
    TestClient c;
    QVERIFY(c.open(m_server->wsUrl()));
    c.sendRaw(frame);
    const auto err = c.waitFor(u"error"_s);
    QVERIFY(err);
    QCOMPARE(err->value("code"_L1).toString(), code);
    QVERIFY2(err->value("message"_L1).toString().contains(mentions), qPrintable(err->value("message"_L1).toString()));
    QVERIFY(c.isConnected());
    QCOMPARE(m_server->app().metrics().errors(*errorCode), before + 1);
}

void TestErrors::connectionSurvivesErrors()
{
    TestClient a, b;
    QVERIFY(a.open(m_server->wsUrl()));
    QVERIFY(b.open(m_server->wsUrl()));
    for (int i = 0; i < 20; ++i)
        a.sendRaw(u"not json at all"_s);
    for (int i = 0; i < 20; ++i)
        QVERIFY(a.waitFor(u"error"_s));
    // The same connection still joins and relays.
    a.join(u"survive"_s, 5, 1, u"A"_s);
    b.join(u"survive"_s, 5, 2, u"B"_s);
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"survive"_s}, {u"appointmentId"_s, 5},
            {u"message"_s, u"ok"_s}, {u"requestId"_s, 77}});
    const auto chat = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(chat);
    QCOMPARE(chat->value("message"_L1).toString(), u"ok"_s);
}

void TestErrors::binaryJsonIsAccepted()
{
    // The original server parsed binary frames as JSON too.
    TestClient a;
    QVERIFY(a.open(m_server->wsUrl()));
    a.socket().sendBinaryMessage(
        R"({"type":"telemedicine_user_joined","roomId":"bin","appointmentId":3,"userId":9,"userName":"B"})");
    QVERIFY(a.waitFor(u"room_state"_s));
}

QTEST_GUILESS_MAIN(TestErrors)
#include "tst_errors.moc"
