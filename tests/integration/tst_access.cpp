// Who may be in which room, tried as a hostile client would, over real
// sockets: a refreshed token that grants less takes rooms away; an
// appointment grant cannot squat another appointment's room; a claimed
// identity cannot capture messages addressed to someone's connection; a lone
// member talking to nobody does not keep a room alive.

#include "TestClient.h"
#include "TestServer.h"
#include "Tokens.h"

#include <QJsonArray>
#include <QTest>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kSecret = "access-test-secret-that-is-at-least-32-bytes";

QByteArray token(const QString &sub, const QString &role, const QStringList &rooms,
                 const QList<qint64> &appointments = {})
{
    QJsonObject claims = claimsFor(sub, u"Name %1"_s.arg(sub), role, rooms);
    QJsonArray list;
    for (qint64 a : appointments)
        list.append(static_cast<double>(a));
    claims.insert(u"appointments"_s, list);
    return makeHs256Token(kSecret, claims);
}

void withAuth(ServerConfig &c)
{
    c.jwtSecret = QString::fromLatin1(kSecret);
}

QUrl withToken(const TestServer &s, const QByteArray &t)
{
    return s.wsUrl(u"access_token="_s + QString::fromLatin1(t));
}

QJsonObject join(const QString &room, qint64 appointment)
{
    return {{u"type"_s, u"telemedicine_user_joined"_s},
            {u"roomId"_s, room},
            {u"appointmentId"_s, static_cast<double>(appointment)}};
}

QJsonObject chat(const QString &room, qint64 appointment, const QString &text)
{
    return {{u"type"_s, u"telemedicine_chat_message"_s},
            {u"roomId"_s, room},
            {u"appointmentId"_s, static_cast<double>(appointment)},
            {u"message"_s, text}};
}

QString errorCode(TestClient &c)
{
    const auto e = c.waitFor(u"error"_s);
    return e ? e->value("code"_L1).toString() : QString();
}

} // namespace

class TestAccess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void refreshedTokenTakesRoomsAway();
    void refreshedTokenLowersRole();
    void appointmentGrantCannotSquatAnotherRoom();
    void claimedIdentityCannotCaptureAConnection();
    void loneMemberDoesNotKeepRoomAlive();
};

void TestAccess::refreshedTokenTakesRoomsAway()
{
    TestServer server(withAuth);
    QVERIFY(server.started());
    TestClient user, other;
    QVERIFY(user.open(withToken(server, token(u"u1"_s, u"patient"_s, {u"a"_s, u"b"_s}))));
    QVERIFY(other.open(withToken(server, token(u"u2"_s, u"patient"_s, {u"a"_s}))));
    user.send(join(u"a"_s, 1));
    QVERIFY(user.waitFor(u"room_state"_s));
    user.send(join(u"b"_s, 2));
    QVERIFY(user.waitFor(u"room_state"_s));
    other.send(join(u"a"_s, 1));
    QVERIFY(other.waitFor(u"room_state"_s));

    // Same user, a new token that no longer grants room a.
    user.send({{u"type"_s, u"auth"_s}, {u"token"_s, QString::fromLatin1(token(u"u1"_s, u"patient"_s, {u"b"_s}))}});
    QVERIFY(user.waitFor(u"auth_ok"_s));
    const auto left = user.waitFor(u"left"_s);
    QVERIFY(left);
    QCOMPARE(left->value("roomId"_L1).toString(), u"a"_s);
    QCOMPARE(left->value("reason"_L1).toString(), u"grant_revoked"_s);
    const auto seen = other.waitFor(u"telemedicine_user_left"_s);
    QVERIFY(seen);
    QCOMPARE(seen->value("reason"_L1).toString(), u"grant_revoked"_s);
    QVERIFY(!server.app().rooms().roomsOf(server.app().rooms().find(u"b"_s)->members().at(0).connectionId)
                 .contains(u"a"_s));

    // It can no longer relay into room a, nor join it again.
    user.send(chat(u"a"_s, 1, u"still here?"_s));
    QCOMPARE(errorCode(user), u"forbidden"_s);
    QVERIFY(other.staysQuiet(u"telemedicine_chat_message"_s, 200));
    user.send(join(u"a"_s, 1));
    QCOMPARE(errorCode(user), u"forbidden"_s);
    // Room b is unaffected.
    QCOMPARE(server.app().rooms().find(u"b"_s)->size(), 1);
}

void TestAccess::refreshedTokenLowersRole()
{
    TestServer server(withAuth);
    QVERIFY(server.started());
    TestClient user, guest;
    QVERIFY(user.open(withToken(server, token(u"u1"_s, u"doctor"_s, {u"r"_s}))));
    QVERIFY(guest.open(withToken(server, token(u"u2"_s, u"patient"_s, {u"r"_s}))));
    user.send(join(u"r"_s, 1));
    QVERIFY(user.waitFor(u"room_state"_s));
    guest.send(join(u"r"_s, 1));
    QVERIFY(guest.waitFor(u"room_state"_s));
    user.send({{u"type"_s, u"auth"_s}, {u"token"_s, QString::fromLatin1(token(u"u1"_s, u"observer"_s, {u"r"_s}))}});
    QVERIFY(user.waitFor(u"auth_ok"_s));
    user.send({{u"type"_s, u"end_consultation"_s}, {u"roomId"_s, u"r"_s}});
    QCOMPARE(errorCode(user), u"host_only"_s);
    QVERIFY(server.app().rooms().find(u"r"_s));
}

void TestAccess::appointmentGrantCannotSquatAnotherRoom()
{
    TestServer server(withAuth);
    QVERIFY(server.started());
    TestClient squatter, owner, viaAppointment;
    QVERIFY(squatter.open(withToken(server, token(u"s"_s, u"patient"_s, {}, {777}))));
    QVERIFY(owner.open(withToken(server, token(u"o"_s, u"doctor"_s, {u"appointment_300"_s}, {300}))));
    QVERIFY(viaAppointment.open(withToken(server, token(u"p"_s, u"patient"_s, {}, {300}))));

    // The attack: a grant for appointment 777 used to open room appointment_300.
    squatter.send(join(u"appointment_300"_s, 777));
    QCOMPARE(errorCode(squatter), u"forbidden"_s);
    squatter.send(join(u"appointment_300"_s, 300));
    QCOMPARE(errorCode(squatter), u"forbidden"_s);
    QVERIFY(!server.app().rooms().find(u"appointment_300"_s));
    // Its own appointment's room is open to it, and bound to that appointment.
    squatter.send(join(u"appointment_777"_s, 300));
    QCOMPARE(errorCode(squatter), u"appointment_mismatch"_s);
    squatter.send(join(u"appointment_777"_s, 777));
    QVERIFY(squatter.waitFor(u"room_state"_s));

    // The rightful holders get in, whoever came first.
    owner.send(join(u"appointment_300"_s, 300));
    QVERIFY(owner.waitFor(u"room_state"_s));
    viaAppointment.send(join(u"appointment_300"_s, 300));
    QVERIFY(viaAppointment.waitFor(u"room_state"_s));
    QCOMPARE(server.app().rooms().find(u"appointment_300"_s)->appointmentId(), 300);
}

void TestAccess::claimedIdentityCannotCaptureAConnection()
{
    TestServer server; // development: identities are claimed
    QVERIFY(server.started());
    TestClient sender, victim, thief;
    for (TestClient *c : {&sender, &victim, &thief})
        QVERIFY(c->open(server.wsUrl()));
    sender.join(u"r"_s, 1, 1, u"S"_s);
    const QString victimId = victim.join(u"r"_s, 1, 2, u"V"_s);
    QVERIFY(!victimId.isEmpty());
    // Claiming the victim's connection id as a user id is refused...
    thief.send({{u"type"_s, u"telemedicine_user_joined"_s},
                {u"roomId"_s, u"r"_s},
                {u"appointmentId"_s, 1},
                {u"userId"_s, victimId}});
    QCOMPARE(errorCode(thief), u"invalid_field"_s);
    thief.join(u"r"_s, 1, 3, u"T"_s);
    // ...and a message to the victim's connection reaches the victim alone.
    sender.send({{u"type"_s, u"telemedicine_offer"_s},
                 {u"roomId"_s, u"r"_s},
                 {u"appointmentId"_s, 1},
                 {u"offer"_s, QJsonObject{{u"sdp"_s, u"v=0"_s}}},
                 {u"to"_s, victimId}});
    QVERIFY(victim.waitFor(u"telemedicine_offer"_s));
    QVERIFY(thief.staysQuiet(u"telemedicine_offer"_s, 200));
}

void TestAccess::loneMemberDoesNotKeepRoomAlive()
{
    TestServer server([](ServerConfig &c) {
        c.idleRoomTimeoutMs = 400;
        c.idleSweepIntervalMs = 100;
        c.rateLimitPerSecond = 0;
    });
    QVERIFY(server.started());
    TestClient lone;
    QVERIFY(lone.open(server.wsUrl()));
    lone.join(u"r"_s, 1, 1, u"L"_s);
    // Talking to nobody, as often as it likes.
    for (int i = 0; i < 30 && lone.unread() == 0; ++i) {
        lone.send(chat(u"r"_s, 1, u"anyone?"_s));
        QTest::qWait(40);
    }
    const auto closed = lone.waitFor(u"room_closed"_s, 3000);
    QVERIFY(closed);
    QCOMPARE(closed->value("reason"_L1).toString(), u"idle"_s);
    QVERIFY(!server.app().rooms().find(u"r"_s));
}

QTEST_MAIN(TestAccess)
#include "tst_access.moc"
