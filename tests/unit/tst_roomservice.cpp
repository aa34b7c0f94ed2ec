// The room service on its own: fake peers that record what they are sent, an
// in-memory history store. What a room does, independent of sockets (the
// integration tests check the same over real connections).

#include "consultation/Fanout.h"
#include "consultation/RoomService.h"
#include "protocol/MessageParser.h"
#include "store/MemoryHistoryStore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QObject>
#include <QTest>

using namespace medrelay;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

class FakePeer final : public QObject, public Peer
{
public:
    FakePeer(QString id, QString user, QString role = {}, bool verified = false)
        : m_id(std::move(id))
    {
        m_identity.userId = std::move(user);
        m_identity.role = std::move(role);
        m_identity.verified = verified;
    }
    const QString &connectionId() const override { return m_id; }
    const Identity &identity() const override { return m_identity; }
    QString remoteAddress() const override { return u"127.0.0.1"_s; }
    void send(const OutboundMessage &message) override
    {
        received.append(QJsonDocument::fromJson(message.utf8()).object());
        raw.append(message.utf8());
    }
    void sendError(protocol::ErrorCode code, const QString &message, const QJsonValue &requestId) override
    {
        send(OutboundMessage(protocol::MessageKind::Error, protocol::makeError(code, message, requestId)));
    }
    void close(int code, const QString &) override { closedWith = code; }
    QObject *lifetime() override { return this; }

    Identity &mutableIdentity() { return m_identity; }
    // Messages of one type, in order.
    QList<QJsonObject> ofType(const QString &type) const
    {
        QList<QJsonObject> out;
        for (const QJsonObject &o : received) {
            if (o.value("type"_L1).toString() == type)
                out.append(o);
        }
        return out;
    }
    QStringList types() const
    {
        QStringList out;
        for (const QJsonObject &o : received)
            out.append(o.value("type"_L1).toString());
        return out;
    }
    void clear()
    {
        received.clear();
        raw.clear();
    }

    QList<QJsonObject> received;
    QList<QByteArray> raw;
    int closedWith = 0;

private:
    QString m_id;
    Identity m_identity;
};

struct Fixture
{
    explicit Fixture(RoomConfig config = {}, AccessRules rules = {}, store::StoreLimits limits = {})
        : history(store::MemoryHistoryStore::Options{limits, 256, 60000, {}})
        , rooms(config, AccessPolicy(rules), history, fanout)
    {}

    // Sends one client message from `peer` through the service.
    void send(FakePeer &peer, const QByteArray &json)
    {
        auto parsed = protocol::parseEnvelope(json);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        const protocol::Envelope &e = parsed.value();
        const Request request(peer, e.kind, e.requestId);
        using protocol::MessageKind;
        switch (e.kind) {
        case MessageKind::UserJoined:
            rooms.join(request, e, protocol::JoinRoom::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::UserLeft:
            rooms.leave(request, e, protocol::LeaveRoom::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::RoomSettings:
            rooms.changeSettings(request, protocol::RoomSettings::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::Admit:
            rooms.admit(request, protocol::ParticipantAction::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::Deny:
            rooms.deny(request, protocol::ParticipantAction::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::RemoveParticipant:
            rooms.removeParticipant(request, protocol::ParticipantAction::fromJson(e.kind, e.json).value());
            break;
        case MessageKind::EndConsultation:
            rooms.endConsultation(request, protocol::EndConsultation::fromJson(e.kind, e.json).value());
            break;
        default: {
            const auto m = protocol::RoomMessage::fromJson(e.kind, e.json);
            QVERIFY(m.ok());
            rooms.relay(request, e, m.value());
        }
        }
    }
    void join(FakePeer &peer, const QString &room, qint64 appointment, const QByteArray &extra = {})
    {
        send(peer, "{\"type\":\"telemedicine_user_joined\",\"roomId\":\"" + room.toUtf8() + "\",\"appointmentId\":"
                       + QByteArray::number(appointment) + extra + "}");
    }
    void chat(FakePeer &peer, const QString &room, const QByteArray &text, const QByteArray &clientId = {})
    {
        QByteArray m = "{\"type\":\"telemedicine_chat_message\",\"roomId\":\"" + room.toUtf8()
            + "\",\"appointmentId\":1,\"message\":\"" + text + "\"";
        if (!clientId.isEmpty())
            m += ",\"clientMessageId\":\"" + clientId + "\"";
        send(peer, m + "}");
    }

    store::MemoryHistoryStore history;
    LocalFanout fanout;
    RoomService rooms;
};

} // namespace

class TestRoomService final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void joinAnnounceStateLeave();
    void relayKeepsSenderBytes();
    void connectionIdTargetCannotBeCaptured();
    void appointmentRoomBelongsToItsAppointment();
    void grantsByRoomOrDerivedRoomOnly();
    void storedMessagesNumberedAndDeduplicated();
    void lateJoinerGetsChatAndWhiteboard();
    void resumeReplaysAfterLastSeq();
    void resumeGapWhenHistoryIsShorter();
    void graceKeepsPlaceAndTakesOver();
    void graceExpiresWithTimeout();
    void waitingRoomAdmitAndDeny();
    void lockedRoomRefusesGuests();
    void hostOnlyCommands();
    void removeParticipantKeepsThemOut();
    void endConsultationRefusesLaterJoins();
    void revokedGrantLeavesRoom();
    void onlyDeliveredTrafficKeepsRoomActive();
};

void TestRoomService::joinAnnounceStateLeave()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.join(b, u"r"_s, 1, ",\"userName\":\"B\",\"extra\":\"kept\"");
    QCOMPARE(a.ofType(u"telemedicine_user_joined"_s).size(), 1);
    QCOMPARE(a.ofType(u"telemedicine_user_joined"_s).at(0).value("extra"_L1).toString(), u"kept"_s);
    const QJsonObject state = b.ofType(u"room_state"_s).value(0);
    QCOMPARE(state.value("participants"_L1).toArray().size(), 2);
    QCOMPARE(state.value("lastSeq"_L1).toInt(), 0);
    QVERIFY(state.value("recentChat"_L1).isArray());
    f.send(b, R"({"type":"telemedicine_user_left","roomId":"r","appointmentId":1})");
    const auto left = a.ofType(u"telemedicine_user_left"_s);
    QCOMPARE(left.size(), 1);
    QCOMPARE(left.at(0).value("reason"_L1).toString(), u"left"_s);
    QCOMPARE(left.at(0).value("connectionId"_L1).toString(), u"cb"_s);
    QVERIFY(f.rooms.find(u"r"_s));
    f.send(a, R"({"type":"telemedicine_user_left","roomId":"r"})");
    QVERIFY(!f.rooms.find(u"r"_s));
}

void TestRoomService::relayKeepsSenderBytes()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.join(b, u"r"_s, 1);
    b.clear();
    f.send(a, R"({"type":"whiteboard_update","roomId":"r","data":{"tool":"pen","color":"#f00","points":[1.50,2e1]},"from":"forged","seq":99})");
    QCOMPARE(b.raw.size(), 1);
    const QByteArray got = b.raw.at(0);
    // The sender's own bytes, in its key order, number spelling kept.
    QVERIFY2(got.contains(R"("data":{"tool":"pen","color":"#f00","points":[1.50,2e1]})"), got.constData());
    QVERIFY(!got.contains("forged"));
    QCOMPARE(b.received.at(0).value("seq"_L1).toInt(), 1);
    QCOMPARE(b.received.at(0).value("from"_L1).toString(), u"1"_s);
}

void TestRoomService::connectionIdTargetCannotBeCaptured()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), victim(u"cvictim"_s, u"2"_s), thief(u"cthief"_s, u"cvictim"_s);
    f.join(a, u"r"_s, 1);
    f.join(victim, u"r"_s, 1);
    f.join(thief, u"r"_s, 1);
    victim.clear();
    thief.clear();
    f.send(a, R"({"type":"telemedicine_offer","roomId":"r","appointmentId":1,"offer":{"sdp":"x"},"to":"cvictim"})");
    QCOMPARE(victim.ofType(u"telemedicine_offer"_s).size(), 1);
    QCOMPARE(thief.ofType(u"telemedicine_offer"_s).size(), 0);
    // While the victim is away, the message reaches nobody.
    f.rooms.sessionClosed(&victim, true);
    a.clear();
    f.send(a, R"({"type":"telemedicine_offer","roomId":"r","appointmentId":1,"offer":{"sdp":"x"},"to":"cvictim"})");
    QCOMPARE(thief.ofType(u"telemedicine_offer"_s).size(), 0);
    QCOMPARE(a.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"target_not_found"_s);
}

void TestRoomService::appointmentRoomBelongsToItsAppointment()
{
    Fixture f;
    FakePeer squatter(u"cs"_s, u"9"_s), owner(u"co"_s, u"1"_s);
    f.join(squatter, u"appointment_300"_s, 777);
    QCOMPARE(squatter.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"appointment_mismatch"_s);
    QVERIFY(!f.rooms.find(u"appointment_300"_s));
    f.join(owner, u"appointment_300"_s, 300);
    QCOMPARE(owner.ofType(u"room_state"_s).size(), 1);
}

void TestRoomService::grantsByRoomOrDerivedRoomOnly()
{
    AccessRules rules;
    rules.authEnabled = true;
    Fixture f({}, rules);
    FakePeer holder777(u"c1"_s, u"1"_s, u"patient"_s, true), holder300(u"c2"_s, u"2"_s, u"doctor"_s, true);
    holder777.mutableIdentity().grantedAppointments = {777};
    holder300.mutableIdentity().grantedRooms = {u"appointment_300"_s};
    holder300.mutableIdentity().grantedAppointments = {300};
    f.join(holder777, u"appointment_300"_s, 777);
    QCOMPARE(holder777.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"forbidden"_s);
    f.join(holder300, u"appointment_300"_s, 300);
    QCOMPARE(holder300.ofType(u"room_state"_s).size(), 1);
    f.join(holder777, u"appointment_777"_s, 777);
    QCOMPARE(holder777.ofType(u"room_state"_s).size(), 1);
}

void TestRoomService::storedMessagesNumberedAndDeduplicated()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.join(b, u"r"_s, 1);
    b.clear();
    f.chat(a, u"r"_s, "one", "m1");
    f.chat(a, u"r"_s, "two", "m2");
    f.chat(a, u"r"_s, "one again", "m1"); // a retry: not relayed
    const auto chats = b.ofType(u"telemedicine_chat_message"_s);
    QCOMPARE(chats.size(), 2);
    QCOMPARE(chats.at(0).value("seq"_L1).toInt(), 1);
    QCOMPARE(chats.at(1).value("seq"_L1).toInt(), 2);
    const auto acks = a.ofType(u"ack"_s);
    QCOMPARE(acks.size(), 3);
    QCOMPARE(acks.at(0).value("seq"_L1).toInt(), 1);
    QCOMPARE(acks.at(2).value("seq"_L1).toInt(), 1);
    QCOMPARE(acks.at(2).value("clientMessageId"_L1).toString(), u"m1"_s);
    // Another user's m1 is its own message.
    f.chat(b, u"r"_s, "b's", "m1");
    QCOMPARE(a.ofType(u"telemedicine_chat_message"_s).value(0).value("seq"_L1).toInt(), 3);
}

void TestRoomService::lateJoinerGetsChatAndWhiteboard()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), late(u"cl"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.send(a, R"({"type":"whiteboard_update","roomId":"r","data":{"n":1}})");
    f.send(a, R"({"type":"whiteboard_clear","roomId":"r"})");
    f.send(a, R"({"type":"whiteboard_update","roomId":"r","data":{"n":2}})");
    f.chat(a, u"r"_s, "hello");
    f.join(late, u"r"_s, 1);
    const QJsonObject state = late.ofType(u"room_state"_s).value(0);
    const QJsonArray board = state.value("whiteboard"_L1).toArray();
    QCOMPARE(board.size(), 1);
    QCOMPARE(board.at(0).toObject().value("data"_L1).toObject().value("n"_L1).toInt(), 2);
    QCOMPARE(board.at(0).toObject().value("seq"_L1).toInt(), 3);
    QCOMPARE(state.value("recentChat"_L1).toArray().size(), 1);
    QCOMPARE(state.value("lastSeq"_L1).toInt(), 4);
}

void TestRoomService::resumeReplaysAfterLastSeq()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    for (int i = 1; i <= 5; ++i)
        f.chat(a, u"r"_s, "m" + QByteArray::number(i));
    f.join(b, u"r"_s, 1, ",\"lastSeq\":2");
    const QStringList types = b.types();
    QCOMPARE(types.first(), u"room_state"_s);
    const auto replay = b.ofType(u"telemedicine_chat_message"_s);
    QCOMPARE(replay.size(), 3);
    QCOMPARE(replay.at(0).value("seq"_L1).toInt(), 3);
    QCOMPARE(replay.at(2).value("seq"_L1).toInt(), 5);
    QVERIFY(b.ofType(u"resume_gap"_s).isEmpty());
}

void TestRoomService::resumeGapWhenHistoryIsShorter()
{
    store::StoreLimits limits;
    limits.maxMessagesPerRoom = 3;
    Fixture f({}, {}, limits);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    for (int i = 1; i <= 6; ++i)
        f.chat(a, u"r"_s, "m" + QByteArray::number(i));
    f.join(b, u"r"_s, 1, ",\"lastSeq\":1");
    const QStringList types = b.types();
    QCOMPARE(types.value(0), u"room_state"_s);
    QCOMPARE(types.value(1), u"resume_gap"_s);
    const QJsonObject gap = b.ofType(u"resume_gap"_s).at(0);
    QCOMPARE(gap.value("requestedAfter"_L1).toInt(), 1);
    QCOMPARE(gap.value("oldestAvailable"_L1).toInt(), 4);
    QCOMPARE(b.ofType(u"telemedicine_chat_message"_s).size(), 3);
}

void TestRoomService::graceKeepsPlaceAndTakesOver()
{
    RoomConfig config;
    config.resumeGraceMs = 60000;
    Fixture f(config);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.join(b, u"r"_s, 1);
    a.clear();
    f.rooms.sessionClosed(&b, true);
    QVERIFY(a.ofType(u"telemedicine_user_left"_s).isEmpty());
    f.chat(a, u"r"_s, "while away");
    FakePeer b2(u"cb2"_s, u"2"_s);
    f.join(b2, u"r"_s, 1, ",\"lastSeq\":0");
    QVERIFY(a.ofType(u"telemedicine_user_joined"_s).isEmpty());
    QCOMPARE(b2.ofType(u"telemedicine_chat_message"_s).size(), 1);
    QCOMPARE(f.rooms.find(u"r"_s)->size(), 2);
    QVERIFY(f.rooms.find(u"r"_s)->member(u"cb2"_s));
    QVERIFY(!f.rooms.find(u"r"_s)->member(u"cb"_s));
    // A clean close is announced at once.
    f.rooms.sessionClosed(&b2, false);
    QCOMPARE(a.ofType(u"telemedicine_user_left"_s).value(0).value("reason"_L1).toString(), u"disconnected"_s);
}

void TestRoomService::graceExpiresWithTimeout()
{
    RoomConfig config;
    config.resumeGraceMs = 50;
    Fixture f(config);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    f.join(a, u"r"_s, 1);
    f.join(b, u"r"_s, 1);
    a.clear();
    f.rooms.sessionClosed(&b, true);
    QTRY_COMPARE(a.ofType(u"telemedicine_user_left"_s).size(), 1);
    QCOMPARE(a.ofType(u"telemedicine_user_left"_s).at(0).value("reason"_L1).toString(), u"timeout"_s);
}

void TestRoomService::waitingRoomAdmitAndDeny()
{
    RoomConfig config;
    config.waitingRoomByDefault = true;
    Fixture f(config);
    FakePeer doctor(u"cd"_s, u"1"_s, u"doctor"_s), guest(u"cg"_s, u"2"_s, u"patient"_s),
        other(u"co"_s, u"3"_s, u"patient"_s);
    f.join(guest, u"r"_s, 1);
    QCOMPARE(guest.types(), QStringList{u"waiting"_s});
    f.join(doctor, u"r"_s, 1);
    QCOMPARE(doctor.ofType(u"admission_request"_s).value(0).value("connectionId"_L1).toString(), u"cg"_s);
    f.chat(doctor, u"r"_s, "private");
    QCOMPARE(guest.ofType(u"telemedicine_chat_message"_s).size(), 0);
    f.send(doctor, R"({"type":"admit","roomId":"r","connectionId":"cg"})");
    QCOMPARE(guest.types().mid(1, 2), (QStringList{u"admitted"_s, u"room_state"_s}));
    QCOMPARE(doctor.ofType(u"telemedicine_user_joined"_s).size(), 1);
    f.join(other, u"r"_s, 1);
    f.send(doctor, R"({"type":"deny","roomId":"r","connectionId":"co"})");
    QCOMPARE(other.types(), (QStringList{u"waiting"_s, u"denied"_s}));
    QVERIFY(!f.rooms.find(u"r"_s)->member(u"co"_s));
    QVERIFY(!f.rooms.find(u"r"_s)->waitingGuest(u"co"_s));
}

void TestRoomService::lockedRoomRefusesGuests()
{
    Fixture f;
    FakePeer doctor(u"cd"_s, u"1"_s, u"doctor"_s), guest(u"cg"_s, u"2"_s), nurse(u"cn"_s, u"3"_s, u"nurse"_s);
    f.join(doctor, u"r"_s, 1);
    f.send(doctor, R"({"type":"room_settings","roomId":"r","locked":true})");
    QCOMPARE(doctor.ofType(u"room_settings_changed"_s).value(0).value("locked"_L1).toBool(), true);
    f.join(guest, u"r"_s, 1);
    QCOMPARE(guest.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"room_locked"_s);
    f.join(nurse, u"r"_s, 1);
    QCOMPARE(nurse.ofType(u"room_state"_s).size(), 1);
}

void TestRoomService::hostOnlyCommands()
{
    Fixture f;
    FakePeer guest(u"cg"_s, u"2"_s, u"patient"_s), doctor(u"cd"_s, u"1"_s, u"doctor"_s);
    f.join(doctor, u"r"_s, 1);
    f.join(guest, u"r"_s, 1);
    for (const QByteArray &m : {QByteArray(R"({"type":"room_settings","roomId":"r","locked":true})"),
                                QByteArray(R"({"type":"remove_participant","roomId":"r","connectionId":"cd"})"),
                                QByteArray(R"({"type":"end_consultation","roomId":"r"})"),
                                QByteArray(R"({"type":"admit","roomId":"r","connectionId":"cd"})")}) {
        guest.clear();
        f.send(guest, m);
        QCOMPARE(guest.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"host_only"_s);
    }
    QVERIFY(!f.rooms.find(u"r"_s)->locked());
    QCOMPARE(f.rooms.find(u"r"_s)->size(), 2);
}

void TestRoomService::removeParticipantKeepsThemOut()
{
    Fixture f;
    FakePeer doctor(u"cd"_s, u"1"_s, u"doctor"_s), guest(u"cg"_s, u"2"_s), other(u"co"_s, u"3"_s);
    f.join(doctor, u"r"_s, 1);
    f.join(guest, u"r"_s, 1);
    f.join(other, u"r"_s, 1);
    other.clear();
    f.send(doctor, R"({"type":"remove_participant","roomId":"r","connectionId":"cg"})");
    QCOMPARE(guest.ofType(u"removed"_s).size(), 1);
    QCOMPARE(other.ofType(u"telemedicine_user_left"_s).value(0).value("reason"_L1).toString(), u"removed"_s);
    guest.clear();
    f.join(guest, u"r"_s, 1);
    QCOMPARE(guest.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"forbidden"_s);
}

void TestRoomService::endConsultationRefusesLaterJoins()
{
    Fixture f;
    FakePeer doctor(u"cd"_s, u"1"_s, u"doctor"_s), guest(u"cg"_s, u"2"_s), late(u"cl"_s, u"3"_s);
    f.join(doctor, u"r"_s, 1);
    f.join(guest, u"r"_s, 1);
    f.chat(guest, u"r"_s, "secret");
    f.send(doctor, R"({"type":"end_consultation","roomId":"r"})");
    const QJsonObject ended = guest.ofType(u"consultation_ended"_s).value(0);
    QCOMPARE(ended.value("endedBy"_L1).toInt(), 1);
    QVERIFY(ended.value("at"_L1).toDouble() > 0);
    QVERIFY(!f.rooms.find(u"r"_s));
    f.join(late, u"r"_s, 1);
    QCOMPARE(late.ofType(u"error"_s).value(0).value("code"_L1).toString(), u"consultation_ended"_s);
    // History is gone with the consultation.
    bool read = false;
    f.history.read({u"r"_s, 0, 100, 100}, &f.rooms, [&](const store::ReadResult &r) {
        read = true;
        QVERIFY(r.messages.isEmpty());
    });
    QVERIFY(read);
}

void TestRoomService::revokedGrantLeavesRoom()
{
    AccessRules rules;
    rules.authEnabled = true;
    Fixture f({}, rules);
    FakePeer a(u"ca"_s, u"1"_s, u"doctor"_s, true), b(u"cb"_s, u"2"_s, u"patient"_s, true);
    a.mutableIdentity().grantedRooms = {u"x"_s, u"y"_s};
    b.mutableIdentity().grantedRooms = {u"x"_s};
    f.join(a, u"x"_s, 1);
    f.join(a, u"y"_s, 2);
    f.join(b, u"x"_s, 1);
    b.clear();
    a.mutableIdentity().grantedRooms = {u"y"_s};
    f.rooms.identityChanged(&a);
    QCOMPARE(a.ofType(u"left"_s).value(0).value("reason"_L1).toString(), u"grant_revoked"_s);
    QCOMPARE(b.ofType(u"telemedicine_user_left"_s).value(0).value("reason"_L1).toString(), u"grant_revoked"_s);
    QVERIFY(!f.rooms.find(u"x"_s)->member(u"ca"_s));
    QVERIFY(f.rooms.find(u"y"_s)->member(u"ca"_s));
}

void TestRoomService::onlyDeliveredTrafficKeepsRoomActive()
{
    Fixture f;
    FakePeer a(u"ca"_s, u"1"_s);
    f.join(a, u"r"_s, 1);
    const qint64 before = f.rooms.find(u"r"_s)->lastActivityMs();
    QTest::qWait(20);
    f.chat(a, u"r"_s, "to nobody");
    f.send(a, R"({"type":"telemedicine_offer","roomId":"r","appointmentId":1,"offer":{}})");
    QCOMPARE(f.rooms.find(u"r"_s)->lastActivityMs(), before);
}

QTEST_GUILESS_MAIN(TestRoomService)
#include "tst_roomservice.moc"
