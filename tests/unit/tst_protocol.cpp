// Parsing and validation of client messages, and the kind and error tables.

#include "protocol/MessageParser.h"

#include <QJsonDocument>

#include <QTest>

using namespace medrelay::protocol;
using namespace Qt::StringLiterals;

class TestProtocol final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void kindTableRoundTrips();
    void errorTableRoundTrips();
    void envelope_data();
    void envelope();
    void requestIdIsKeptOnErrors();
    void joinValidation_data();
    void joinValidation();
    void roomMessageValidation_data();
    void roomMessageValidation();
    void userIdJson_data();
    void userIdJson();
};

void TestProtocol::kindTableRoundTrips()
{
    for (int i = 0; i < kMessageKindCount; ++i) {
        const auto kind = static_cast<MessageKind>(i);
        QCOMPARE(kindFromWire(QString(wireName(kind))), kind);
    }
    QCOMPARE(wireName(MessageKind::IceCandidate), "telemedicine_ice_candidate"_L1);
    QVERIFY(!kindFromWire(u"TELEMEDICINE_OFFER"_s));
    QCOMPARE(direction(MessageKind::RoomState), Direction::ServerToClient);
}

void TestProtocol::errorTableRoundTrips()
{
    for (int i = 0; i < kErrorCodeCount; ++i) {
        const auto code = static_cast<ErrorCode>(i);
        QCOMPARE(errorFromWire(QString(wireName(code))), code);
        QVERIFY(httpStatus(code) >= 400 && httpStatus(code) < 600);
    }
}

void TestProtocol::envelope_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<int>("codeOrKind");
    QTest::addRow("join") << QByteArray(R"({"type":"telemedicine_user_joined"})") << true
                          << int(MessageKind::UserJoined);
    QTest::addRow("truncated") << QByteArray(R"({"type":)") << false << int(ErrorCode::InvalidJson);
    QTest::addRow("empty") << QByteArray() << false << int(ErrorCode::InvalidJson);
    QTest::addRow("string") << QByteArray(R"("hello")") << false << int(ErrorCode::InvalidMessage);
    QTest::addRow("array") << QByteArray("[]") << false << int(ErrorCode::InvalidMessage);
    QTest::addRow("no type") << QByteArray("{}") << false << int(ErrorCode::MissingField);
    QTest::addRow("null type") << QByteArray(R"({"type":null})") << false << int(ErrorCode::MissingField);
    QTest::addRow("numeric type") << QByteArray(R"({"type":1})") << false << int(ErrorCode::InvalidField);
    QTest::addRow("unknown") << QByteArray(R"({"type":"x"})") << false << int(ErrorCode::UnknownType);
    QTest::addRow("server kind") << QByteArray(R"({"type":"error"})") << false << int(ErrorCode::UnknownType);
    QTest::addRow("invalid utf8") << QByteArray("{\"type\":\"\xff\xfe\"}") << false << int(ErrorCode::InvalidJson);
}

void TestProtocol::envelope()
{
    QFETCH(QByteArray, frame);
    QFETCH(bool, ok);
    QFETCH(int, codeOrKind);
    const auto r = parseEnvelope(frame);
    QCOMPARE(r.ok(), ok);
    if (ok)
        QCOMPARE(int(r.value().kind), codeOrKind);
    else
        QCOMPARE(int(r.error().code), codeOrKind);
}

void TestProtocol::requestIdIsKeptOnErrors()
{
    auto r = parseEnvelope(R"({"type":"nope","requestId":"abc"})");
    QVERIFY(!r.ok());
    QCOMPARE(r.error().requestId.toString(), u"abc"_s);
    r = parseEnvelope(R"({"type":"auth","requestId":{"nested":1}})");
    QVERIFY(r.ok());
    QVERIFY(r.value().requestId.isNull()); // only strings and numbers are echoed
    // Control characters in an unknown type are not echoed back.
    r = parseEnvelope("{\"type\":\"a\\u0000b\\nc\"}");
    QVERIFY(!r.ok());
    QVERIFY(!r.error().message.contains(u'\n'));
}

void TestProtocol::joinValidation_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("ok");
    QTest::addRow("original shape") << QByteArray(R"({"roomId":"appointment_123","appointmentId":123,"userId":1,"userName":"Test User"})") << true;
    QTest::addRow("string appointment") << QByteArray(R"({"roomId":"r","appointmentId":"123"})") << true;
    QTest::addRow("negative appointment") << QByteArray(R"({"roomId":"r","appointmentId":-1})") << false;
    QTest::addRow("huge appointment") << QByteArray(R"({"roomId":"r","appointmentId":1e300})") << false;
    QTest::addRow("room too long") << ("{\"roomId\":\"" + QByteArray(129, 'a') + "\",\"appointmentId\":1}") << false;
    QTest::addRow("room 128") << ("{\"roomId\":\"" + QByteArray(128, 'a') + "\",\"appointmentId\":1}") << true;
    QTest::addRow("room with slash") << QByteArray(R"({"roomId":"a/b","appointmentId":1})") << false;
    QTest::addRow("room empty") << QByteArray(R"({"roomId":"","appointmentId":1})") << false;
    QTest::addRow("name too long") << ("{\"roomId\":\"r\",\"appointmentId\":1,\"userName\":\"" + QByteArray(129, 'n') + "\"}") << false;
    QTest::addRow("name number") << QByteArray(R"({"roomId":"r","appointmentId":1,"userName":5})") << false;
    QTest::addRow("user id bool") << QByteArray(R"({"roomId":"r","appointmentId":1,"userId":true})") << false;
}

void TestProtocol::joinValidation()
{
    QFETCH(QByteArray, json);
    QFETCH(bool, ok);
    JsonObjectView view;
    QVERIFY(!JsonObjectView::scan(json, view));
    const auto r = JoinRoom::fromJson(MessageKind::UserJoined, view);
    QCOMPARE(r.ok(), ok);
}

void TestProtocol::roomMessageValidation_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<bool>("ok");
    QTest::addRow("offer") << int(MessageKind::Offer) << QByteArray(R"({"roomId":"r","appointmentId":1,"offer":{"sdp":"x"}})") << true;
    QTest::addRow("offer to") << int(MessageKind::Offer) << QByteArray(R"({"roomId":"r","appointmentId":1,"offer":{},"to":"7"})") << true;
    QTest::addRow("offer no appt") << int(MessageKind::Offer) << QByteArray(R"({"roomId":"r","offer":{}})") << false;
    QTest::addRow("ice null") << int(MessageKind::IceCandidate) << QByteArray(R"({"roomId":"r","appointmentId":1,"candidate":null})") << false;
    QTest::addRow("chat empty") << int(MessageKind::ChatMessage) << QByteArray(R"({"roomId":"r","appointmentId":1,"message":""})") << false;
    QTest::addRow("chat long") << int(MessageKind::ChatMessage)
                               << ("{\"roomId\":\"r\",\"appointmentId\":1,\"message\":\"" + QByteArray(16385, 'm') + "\"}") << false;
    QTest::addRow("whiteboard no appt") << int(MessageKind::WhiteboardUpdate) << QByteArray(R"({"roomId":"r","data":[1]})") << true;
    QTest::addRow("whiteboard null") << int(MessageKind::WhiteboardUpdate) << QByteArray(R"({"roomId":"r","data":null})") << false;
}

void TestProtocol::roomMessageValidation()
{
    QFETCH(int, kind);
    QFETCH(QByteArray, json);
    QFETCH(bool, ok);
    JsonObjectView view;
    QVERIFY(!JsonObjectView::scan(json, view));
    const auto r = RoomMessage::fromJson(MessageKind(kind), view, ValidationLimits{16384});
    QCOMPARE(r.ok(), ok);
}

void TestProtocol::userIdJson_data()
{
    QTest::addColumn<QString>("id");
    QTest::addColumn<bool>("isNumber");
    QTest::addRow("small") << u"42"_s << true;
    QTest::addRow("zero") << u"0"_s << true;
    QTest::addRow("negative") << u"-5"_s << true;
    QTest::addRow("max safe") << u"9007199254740991"_s << true;
    QTest::addRow("beyond safe") << u"9007199254740993"_s << false;
    QTest::addRow("leading zero") << u"007"_s << false;
    QTest::addRow("text") << u"user-1"_s << false;
}

void TestProtocol::userIdJson()
{
    QFETCH(QString, id);
    QFETCH(bool, isNumber);
    const QJsonValue v = userIdToJson(id);
    QCOMPARE(v.isDouble(), isNumber);
    QCOMPARE(userIdFromJson(v), std::optional<QString>(id));
}

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
