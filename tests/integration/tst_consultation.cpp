// Consultations over real sockets: numbered history, acknowledgements and
// deduplication, resume after a dropped connection, the resume grace, late
// joiners, the waiting room, lock, removal, ending, the time limit and
// automatic logoff.

#include "TestClient.h"
#include "TestServer.h"

#include <QJsonArray>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

QJsonObject joinMessage(const QString &room, qint64 appointment, const QJsonValue &user, const QString &role = {},
                        std::optional<qint64> lastSeq = std::nullopt)
{
    QJsonObject m{{u"type"_s, u"telemedicine_user_joined"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, static_cast<double>(appointment)},
                  {u"userId"_s, user},
                  {u"userName"_s, u"User %1"_s.arg(user.toVariant().toString())}};
    if (!role.isEmpty())
        m.insert(u"role"_s, role);
    if (lastSeq)
        m.insert(u"lastSeq"_s, static_cast<double>(*lastSeq));
    return m;
}

QJsonObject chat(const QString &room, const QString &text, const QString &clientMessageId = {})
{
    QJsonObject m{{u"type"_s, u"telemedicine_chat_message"_s},
                  {u"roomId"_s, room},
                  {u"appointmentId"_s, 1},
                  {u"message"_s, text}};
    if (!clientMessageId.isEmpty())
        m.insert(u"clientMessageId"_s, clientMessageId);
    return m;
}

// The chat texts a client received, in order, from its first message on.
QStringList chatsOf(const TestClient &c)
{
    QStringList out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == u"telemedicine_chat_message"_s)
            out.append(m.value("message"_L1).toString());
    }
    return out;
}

QList<int> seqsOf(const TestClient &c, const QString &type = u"telemedicine_chat_message"_s)
{
    QList<int> out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == type)
            out.append(m.value("seq"_L1).toInt());
    }
    return out;
}

} // namespace

class TestConsultation final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void storedMessagesCarrySeqAndAcks();
    void duplicateClientMessageIdRelayedOnce();
    void droppedClientResumesWithoutLossOrDuplicate();
    void graceWithoutReturnAnnouncesTimeout();
    void cleanCloseIsAnnouncedAtOnce();
    void lateJoinerGetsWhiteboardAndChat();
    void resumeGapWhenHistoryIsShorter();
    void waitingRoomAdmitAndDeny();
    void hostJoiningLaterGetsPendingRequests();
    void lockedRoomRefusesGuests();
    void removedParticipantCannotComeBack();
    void endConsultationRefusesLaterJoins();
    void adminEndsConsultation();
    void maxDurationWarnsThenEnds();
    void idleConnectionIsLoggedOff();
    void guestCannotUseHostCommands();
};

void TestConsultation::storedMessagesCarrySeqAndAcks()
{
    TestServer server;
    QVERIFY2(server.started(), qPrintable(server.error()));
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    QVERIFY(!a.join(u"r"_s, 1, 1, u"A"_s).isEmpty());
    QVERIFY(!b.join(u"r"_s, 1, 2, u"B"_s).isEmpty());
    // A client's own seq is ignored; the server numbers stored messages.
    QJsonObject first = chat(u"r"_s, u"one"_s, u"c-1"_s);
    first.insert(u"seq"_s, 999);
    a.send(first);
    a.send(QJsonObject{{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, u"r"_s}, {u"data"_s, QJsonArray{1, 2}}});
    const auto ack = a.waitFor(u"ack"_s);
    QVERIFY(ack);
    QCOMPARE(ack->value("clientMessageId"_L1).toString(), u"c-1"_s);
    QCOMPARE(ack->value("seq"_L1).toInt(), 1);
    QCOMPARE(ack->value("roomId"_L1).toString(), u"r"_s);
    const auto relayed = b.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(relayed);
    QCOMPARE(relayed->value("seq"_L1).toInt(), 1);
    const auto board = b.waitFor(u"whiteboard_update"_s);
    QVERIFY(board);
    QCOMPARE(board->value("seq"_L1).toInt(), 2);
    // Without a clientMessageId nothing is acknowledged (the original's behaviour).
    QVERIFY(a.staysQuiet(u"ack"_s, 200));
}

void TestConsultation::duplicateClientMessageIdRelayedOnce()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    a.send(chat(u"r"_s, u"hello"_s, u"same"_s));
    a.send(chat(u"r"_s, u"hello"_s, u"same"_s)); // a retry
    a.send(chat(u"r"_s, u"next"_s, u"other"_s));
    QTRY_COMPARE(chatsOf(b).size(), 2);
    QCOMPARE(chatsOf(b), (QStringList{u"hello"_s, u"next"_s}));
    QTRY_COMPARE(seqsOf(a, u"ack"_s).size(), 3);
    QCOMPARE(seqsOf(a, u"ack"_s), (QList<int>{1, 1, 2}));
    QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    QVERIFY(b.staysQuiet(u"telemedicine_chat_message"_s, 200));
}

void TestConsultation::droppedClientResumesWithoutLossOrDuplicate()
{
    TestServer server([](ServerConfig &c) { c.resumeGraceMs = 10000; });
    QVERIFY(server.started());
    TestClient doctor, patient;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(patient.open(server.wsUrl()));
    doctor.join(u"r"_s, 1, 1, u"Doctor"_s);
    patient.join(u"r"_s, 1, 2, u"Patient"_s);
    QVERIFY(doctor.waitFor(u"telemedicine_user_joined"_s));
    doctor.send(chat(u"r"_s, u"m1"_s));
    doctor.send(chat(u"r"_s, u"m2"_s));
    QTRY_COMPARE(chatsOf(patient).size(), 2);
    const int lastSeen = seqsOf(patient).last();

    // The patient's network drops; the doctor goes on writing.
    patient.socket().abort();
    QTRY_COMPARE(server.app().connections().count(), 1);
    for (int i = 3; i <= 7; ++i)
        doctor.send(chat(u"r"_s, u"m%1"_s.arg(i)));
    QTest::qWait(50);

    TestClient back;
    QVERIFY(back.open(server.wsUrl()));
    back.send(joinMessage(u"r"_s, 1, 2, {}, lastSeen));
    // Then live traffic, after the replay.
    QVERIFY(back.waitFor(u"room_state"_s));
    doctor.send(chat(u"r"_s, u"m8"_s));
    QTRY_COMPARE(chatsOf(back).size(), 6);
    QCOMPARE(chatsOf(back), (QStringList{u"m3"_s, u"m4"_s, u"m5"_s, u"m6"_s, u"m7"_s, u"m8"_s}));
    QCOMPARE(seqsOf(back), (QList<int>{3, 4, 5, 6, 7, 8}));
    // Nobody was told the patient left or joined again.
    QVERIFY(doctor.staysQuiet(u"telemedicine_user_left"_s, 200));
    QVERIFY(doctor.staysQuiet(u"telemedicine_user_joined"_s, 10));
    QCOMPARE(server.app().rooms().find(u"r"_s)->size(), 2);
}

void TestConsultation::graceWithoutReturnAnnouncesTimeout()
{
    TestServer server([](ServerConfig &c) { c.resumeGraceMs = 300; });
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    const QString bId = b.join(u"r"_s, 1, 2, u"B"_s);
    b.socket().abort();
    const auto left = a.waitFor(u"telemedicine_user_left"_s, 5000);
    QVERIFY(left);
    QCOMPARE(left->value("reason"_L1).toString(), u"timeout"_s);
    QCOMPARE(left->value("connectionId"_L1).toString(), bId);
    QCOMPARE(server.app().rooms().find(u"r"_s)->size(), 1);
}

void TestConsultation::cleanCloseIsAnnouncedAtOnce()
{
    TestServer server([](ServerConfig &c) { c.resumeGraceMs = 60000; });
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    b.join(u"r"_s, 1, 2, u"B"_s);
    b.socket().close(QWebSocketProtocol::CloseCodeNormal);
    const auto left = a.waitFor(u"telemedicine_user_left"_s, 3000);
    QVERIFY(left);
    QCOMPARE(left->value("reason"_L1).toString(), u"disconnected"_s);
}

void TestConsultation::lateJoinerGetsWhiteboardAndChat()
{
    TestServer server([](ServerConfig &c) { c.recentChat = 2; });
    QVERIFY(server.started());
    TestClient a, late;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(late.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    const auto stroke = [](int n) {
        return QJsonObject{{u"type"_s, u"whiteboard_update"_s},
                           {u"roomId"_s, u"r"_s},
                           {u"data"_s, QJsonObject{{u"stroke"_s, n}}},
                           {u"clientMessageId"_s, u"s%1"_s.arg(n)}};
    };
    a.send(stroke(1));
    a.send(QJsonObject{{u"type"_s, u"whiteboard_clear"_s}, {u"roomId"_s, u"r"_s}, {u"clientMessageId"_s, u"clr"_s}});
    a.send(stroke(2));
    a.send(stroke(3));
    for (const QString &t : {u"c1"_s, u"c2"_s, u"c3"_s})
        a.send(chat(u"r"_s, t, t));
    QTRY_COMPARE(seqsOf(a, u"ack"_s).size(), 7);
    late.send(joinMessage(u"r"_s, 1, 2));
    const auto state = late.waitFor(u"room_state"_s);
    QVERIFY(state);
    QCOMPARE(state->value("lastSeq"_L1).toInt(), 7);
    const QJsonArray board = state->value("whiteboard"_L1).toArray();
    QCOMPARE(board.size(), 2);
    QCOMPARE(board.at(0).toObject().value("data"_L1).toObject().value("stroke"_L1).toInt(), 2);
    QCOMPARE(board.at(1).toObject().value("seq"_L1).toInt(), 4);
    const QJsonArray recent = state->value("recentChat"_L1).toArray();
    QCOMPARE(recent.size(), 2);
    QCOMPARE(recent.at(0).toObject().value("message"_L1).toString(), u"c2"_s);
    QCOMPARE(recent.at(1).toObject().value("message"_L1).toString(), u"c3"_s);
}

void TestConsultation::resumeGapWhenHistoryIsShorter()
{
    TestServer server([](ServerConfig &c) { c.historyMaxMessages = 3; });
    QVERIFY(server.started());
    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    for (int i = 1; i <= 6; ++i)
        a.send(chat(u"r"_s, u"m%1"_s.arg(i), u"id%1"_s.arg(i)));
    QTRY_COMPARE(seqsOf(a, u"ack"_s).size(), 6);
    b.send(joinMessage(u"r"_s, 1, 2, {}, 1));
    QTRY_COMPARE(chatsOf(b).size(), 3);
    const QList<QJsonObject> got = b.received();
    QCOMPARE(got.at(0).value("type"_L1).toString(), u"room_state"_s);
    QCOMPARE(got.at(1).value("type"_L1).toString(), u"resume_gap"_s);
    QCOMPARE(got.at(1).value("requestedAfter"_L1).toInt(), 1);
    QCOMPARE(got.at(1).value("oldestAvailable"_L1).toInt(), 4);
    QCOMPARE(seqsOf(b), (QList<int>{4, 5, 6}));
}

void TestConsultation::waitingRoomAdmitAndDeny()
{
    TestServer server([](ServerConfig &c) { c.waitingRoomByDefault = true; });
    QVERIFY(server.started());
    TestClient doctor, patient, stranger;
    for (TestClient *c : {&doctor, &patient, &stranger})
        QVERIFY(c->open(server.wsUrl()));
    doctor.send(joinMessage(u"r"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    patient.send(joinMessage(u"r"_s, 1, 2, u"patient"_s));
    QVERIFY(patient.waitFor(u"waiting"_s));
    const auto request = doctor.waitFor(u"admission_request"_s);
    QVERIFY(request);
    const QString patientId = request->value("connectionId"_L1).toString();
    QCOMPARE(request->value("userId"_L1).toInt(), 2);
    // While waiting, the guest receives nothing from the room.
    doctor.send(chat(u"r"_s, u"before admission"_s));
    doctor.send(QJsonObject{{u"type"_s, u"telemedicine_offer"_s},
                            {u"roomId"_s, u"r"_s},
                            {u"appointmentId"_s, 1},
                            {u"offer"_s, QJsonObject{{u"sdp"_s, u"x"_s}}}});
    QVERIFY(patient.staysQuiet({}, 300));
    // And cannot send into it.
    patient.send(chat(u"r"_s, u"let me in"_s));
    QCOMPARE(patient.waitFor(u"error"_s)->value("code"_L1).toString(), u"not_member"_s);

    doctor.send(QJsonObject{{u"type"_s, u"admit"_s}, {u"roomId"_s, u"r"_s}, {u"connectionId"_s, patientId}});
    QVERIFY(patient.waitFor(u"admitted"_s));
    const auto state = patient.waitFor(u"room_state"_s);
    QVERIFY(state);
    QCOMPARE(state->value("participants"_L1).toArray().size(), 2);
    QVERIFY(doctor.waitFor(u"telemedicine_user_joined"_s));

    stranger.send(joinMessage(u"r"_s, 1, 3, u"patient"_s));
    QVERIFY(stranger.waitFor(u"waiting"_s));
    const auto second = doctor.waitFor(u"admission_request"_s);
    QVERIFY(second);
    doctor.send(QJsonObject{{u"type"_s, u"deny"_s},
                            {u"roomId"_s, u"r"_s},
                            {u"connectionId"_s, second->value("connectionId"_L1).toString()}});
    QVERIFY(stranger.waitFor(u"denied"_s));
    QCOMPARE(server.app().rooms().find(u"r"_s)->size(), 2);
    QVERIFY(server.app().rooms().find(u"r"_s)->waiting().isEmpty());
    doctor.send(chat(u"r"_s, u"after"_s));
    QVERIFY(stranger.staysQuiet(u"telemedicine_chat_message"_s, 200));
}

void TestConsultation::hostJoiningLaterGetsPendingRequests()
{
    TestServer server([](ServerConfig &c) { c.waitingRoomByDefault = true; });
    QVERIFY(server.started());
    TestClient doctor, patient;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(patient.open(server.wsUrl()));
    patient.send(joinMessage(u"r"_s, 1, 2, u"patient"_s));
    QVERIFY(patient.waitFor(u"waiting"_s));
    doctor.send(joinMessage(u"r"_s, 1, 1, u"clinician"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    const auto request = doctor.waitFor(u"admission_request"_s);
    QVERIFY(request);
    QCOMPARE(request->value("userId"_L1).toInt(), 2);
}

void TestConsultation::lockedRoomRefusesGuests()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient doctor, guest, nurse;
    for (TestClient *c : {&doctor, &guest, &nurse})
        QVERIFY(c->open(server.wsUrl()));
    doctor.send(joinMessage(u"r"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    doctor.send(QJsonObject{{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"r"_s}, {u"locked"_s, true}});
    const auto changed = doctor.waitFor(u"room_settings_changed"_s);
    QVERIFY(changed);
    QCOMPARE(changed->value("locked"_L1).toBool(), true);
    guest.send(joinMessage(u"r"_s, 1, 2, u"patient"_s));
    const auto refused = guest.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"room_locked"_s);
    nurse.send(joinMessage(u"r"_s, 1, 3, u"nurse"_s));
    QVERIFY(nurse.waitFor(u"room_state"_s));
}

void TestConsultation::removedParticipantCannotComeBack()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient doctor, guest, other;
    for (TestClient *c : {&doctor, &guest, &other})
        QVERIFY(c->open(server.wsUrl()));
    doctor.send(joinMessage(u"r"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    const QString guestId = guest.join(u"r"_s, 1, 2, u"G"_s);
    other.join(u"r"_s, 1, 3, u"O"_s);
    doctor.send(QJsonObject{{u"type"_s, u"remove_participant"_s}, {u"roomId"_s, u"r"_s}, {u"connectionId"_s, guestId}});
    const auto removed = guest.waitFor(u"removed"_s);
    QVERIFY(removed);
    QCOMPARE(removed->value("by"_L1).toInt(), 1);
    const auto left = other.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("reason"_L1).toString(), u"removed"_s);
    QCOMPARE(left->value("connectionId"_L1).toString(), guestId);
    guest.send(joinMessage(u"r"_s, 1, 2));
    const auto refused = guest.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"forbidden"_s);
    QVERIFY(guest.isConnected());
}

void TestConsultation::endConsultationRefusesLaterJoins()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient doctor, patient, late;
    for (TestClient *c : {&doctor, &patient, &late})
        QVERIFY(c->open(server.wsUrl()));
    doctor.send(joinMessage(u"appointment_5"_s, 5, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    patient.join(u"appointment_5"_s, 5, 2, u"P"_s);
    doctor.send(QJsonObject{{u"type"_s, u"end_consultation"_s}, {u"roomId"_s, u"appointment_5"_s}});
    for (TestClient *c : {&doctor, &patient}) {
        const auto ended = c->waitFor(u"consultation_ended"_s);
        QVERIFY(ended);
        QCOMPARE(ended->value("roomId"_L1).toString(), u"appointment_5"_s);
        QCOMPARE(ended->value("endedBy"_L1).toInt(), 1);
        QVERIFY(ended->value("at"_L1).toDouble() > 0);
    }
    QVERIFY(!server.app().rooms().find(u"appointment_5"_s));
    late.send(joinMessage(u"appointment_5"_s, 5, 3));
    const auto refused = late.waitFor(u"error"_s);
    QVERIFY(refused);
    QCOMPARE(refused->value("code"_L1).toString(), u"consultation_ended"_s);
    // The members are still connected, just out of the room.
    QVERIFY(patient.isConnected());
}

void TestConsultation::adminEndsConsultation()
{
    TestServer server;
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    const auto result = server.app().admin().endConsultation(u"r"_s, {}, u"admin:test"_s);
    QVERIFY(result.ok);
    QCOMPARE(result.connections.size(), 1);
    const auto ended = a.waitFor(u"consultation_ended"_s);
    QVERIFY(ended);
    QCOMPARE(ended->value("endedBy"_L1).toString(), u"admin:test"_s);
    QVERIFY(!server.app().admin().endConsultation(u"r"_s, {}, u"admin:test"_s).ok);
}

void TestConsultation::maxDurationWarnsThenEnds()
{
    TestServer server([](ServerConfig &c) { c.maxConsultationMs = 1500; });
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    // Shorter than the five-minute notice: warned at once, then ended.
    const auto warning = a.waitFor(u"consultation_warning"_s, 5000);
    QVERIFY(warning);
    QVERIFY(warning->value("endsAt"_L1).toDouble() > 0);
    const auto ended = a.waitFor(u"consultation_ended"_s, 5000);
    QVERIFY(ended);
    QCOMPARE(ended->value("reason"_L1).toString(), u"max_duration"_s);
    QCOMPARE(ended->value("endedBy"_L1).toString(), u"system"_s);
}

void TestConsultation::idleConnectionIsLoggedOff()
{
    TestServer server([](ServerConfig &c) {
        c.idleLogoffMs = 300;
        c.pingIntervalMs = 100;
    });
    QVERIFY(server.started());
    TestClient idle, busy;
    QVERIFY(idle.open(server.wsUrl()));
    QVERIFY(busy.open(server.wsUrl()));
    idle.join(u"r"_s, 1, 1, u"I"_s);
    busy.join(u"r"_s, 1, 2, u"B"_s);
    // Pongs do not count as activity; messages do.
    for (int i = 0; i < 12 && idle.isConnected(); ++i) {
        busy.send(chat(u"r"_s, u"still here"_s));
        QTest::qWait(60);
    }
    QVERIFY(idle.waitDisconnected(3000));
    QCOMPARE(idle.closeCode(), 4004);
    QVERIFY(busy.isConnected());
}

void TestConsultation::guestCannotUseHostCommands()
{
    TestServer server([](ServerConfig &c) { c.waitingRoomByDefault = true; });
    QVERIFY(server.started());
    TestClient doctor, guest, waiting;
    for (TestClient *c : {&doctor, &guest, &waiting})
        QVERIFY(c->open(server.wsUrl()));
    doctor.send(joinMessage(u"r"_s, 1, 1, u"doctor"_s));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    guest.send(joinMessage(u"r"_s, 1, 2, u"patient"_s));
    const auto request = doctor.waitFor(u"admission_request"_s);
    doctor.send(QJsonObject{{u"type"_s, u"admit"_s},
                            {u"roomId"_s, u"r"_s},
                            {u"connectionId"_s, request->value("connectionId"_L1).toString()}});
    QVERIFY(guest.waitFor(u"room_state"_s));
    waiting.send(joinMessage(u"r"_s, 1, 3, u"patient"_s));
    const auto pending = doctor.waitFor(u"admission_request"_s);
    QVERIFY(pending);
    const QString waitingId = pending->value("connectionId"_L1).toString();
    const QList<QJsonObject> attempts{
        {{u"type"_s, u"admit"_s}, {u"roomId"_s, u"r"_s}, {u"connectionId"_s, waitingId}},
        {{u"type"_s, u"room_settings"_s}, {u"roomId"_s, u"r"_s}, {u"waitingRoom"_s, false}},
        {{u"type"_s, u"remove_participant"_s}, {u"roomId"_s, u"r"_s}, {u"connectionId"_s, waitingId}},
        {{u"type"_s, u"end_consultation"_s}, {u"roomId"_s, u"r"_s}},
    };
    for (const QJsonObject &m : attempts) {
        guest.send(m);
        const auto refused = guest.waitFor(u"error"_s);
        QVERIFY(refused);
        QCOMPARE(refused->value("code"_L1).toString(), u"host_only"_s);
    }
    // Nothing changed: still waiting, room open and unlocked.
    QVERIFY(waiting.staysQuiet(u"admitted"_s, 200));
    QCOMPARE(server.app().rooms().find(u"r"_s)->waiting().size(), 1);
    QVERIFY(server.app().rooms().find(u"r"_s)->waitingRoom());
    // A host of another room has no say here either.
    TestClient otherDoctor;
    QVERIFY(otherDoctor.open(server.wsUrl()));
    otherDoctor.send(joinMessage(u"elsewhere"_s, 9, 9, u"doctor"_s));
    QVERIFY(otherDoctor.waitFor(u"room_state"_s));
    otherDoctor.send(QJsonObject{{u"type"_s, u"admit"_s}, {u"roomId"_s, u"r"_s}, {u"connectionId"_s, waitingId}});
    QCOMPARE(otherDoctor.waitFor(u"error"_s)->value("code"_L1).toString(), u"not_member"_s);
}

QTEST_MAIN(TestConsultation)
#include "tst_consultation.moc"
