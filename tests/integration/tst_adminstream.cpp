// The admin event stream (/admin/ws) and the paged room API over real
// sockets: a console gets a snapshot, then every change numbered; it resumes
// from the last seq it saw, or gets a fresh snapshot (reset) when the server
// no longer has what it missed; the stream takes the admin API's token and
// Origin rules.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include "admin/AdminStream.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkRequest>
#include <QTest>

#include <memory>
#include <vector>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

const QString kToken = u"stream-admin-token-0123456789"_s;

void withToken(ServerConfig &c)
{
    c.adminToken = kToken;
}

QNetworkRequest bearer(const QString &token = kToken)
{
    QNetworkRequest r;
    r.setRawHeader("Authorization", "Bearer " + token.toUtf8());
    return r;
}

QUrl streamUrl(const TestServer &s, const QString &query = {})
{
    QUrl url(u"ws://127.0.0.1:%1/admin/ws"_s.arg(s.port()));
    if (!query.isEmpty())
        url.setQuery(query);
    return url;
}

// The changes of one kind a console received, in order.
QList<QJsonObject> changes(const TestClient &c, const QString &change)
{
    QList<QJsonObject> out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == u"change"_s && m.value("change"_L1).toString() == change)
            out.append(m);
    }
    return out;
}

QList<qint64> seqs(const TestClient &c)
{
    QList<qint64> out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == u"change"_s)
            out.append(m.value("seq"_L1).toInteger());
    }
    return out;
}

} // namespace

class TestAdminStream final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void snapshotThenChanges();
    void streamNeedsTheAdminToken();
    void streamRefusesForeignOrigins();
    void resumesFromLastSeq();
    void freshSnapshotWhenTooFarBehind();
    void freshSnapshotAfterRestart();
    void countersArriveWhileListening();
    void roomsArePagedAndFiltered();
    void oneRoomWithParticipants();
    void snapshotCarriesWholeRooms();
    void countersCarryTheCapAndRefusals();
    void activityOnceASecondForRoomsThatMoved();
    void serverEventsThatAreNotRoomChanges();
    void statsReportTheConnectionCap();
    void waitingGuestIsDescribed();
    void consolesBetweenTwoChangesShareOneSnapshot();
    void whatAConsoleSendsGoesNowhere();
};

void TestAdminStream::snapshotThenChanges()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient early;
    QVERIFY(early.open(server.wsUrl()));
    early.join(u"before"_s, 1, 1, u"E"_s);

    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    const auto snapshot = console.waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    QVERIFY(!snapshot->value("epoch"_L1).toString().isEmpty());
    const qint64 start = snapshot->value("seq"_L1).toInteger();
    const QJsonArray rooms = snapshot->value("rooms"_L1).toArray();
    QCOMPARE(rooms.size(), 1);
    QCOMPARE(rooms.at(0).toObject().value("id"_L1).toString(), u"before"_s);
    QCOMPARE(snapshot->value("counters"_L1).toObject().value("connections"_L1).toInt(), 1);

    TestClient a, b;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    const QString aId = a.join(u"r"_s, 7, 1, u"A"_s);
    b.join(u"r"_s, 7, 2, u"B"_s);
    b.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"r"_s}});
    a.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"r"_s}});
    QTRY_COMPARE(changes(console, u"room_closed"_s).size(), 1);

    const auto opened = changes(console, u"room_opened"_s);
    QCOMPARE(opened.size(), 1);
    QCOMPARE(opened.at(0).value("roomId"_L1).toString(), u"r"_s);
    const auto joined = changes(console, u"participant_joined"_s);
    QCOMPARE(joined.size(), 2);
    const QJsonObject p = joined.at(0).value("participant"_L1).toObject();
    QCOMPARE(p.value("connectionId"_L1).toString(), aId);
    QCOMPARE(p.value("userName"_L1).toString(), u"A"_s);
    QCOMPARE(joined.at(1).value("room"_L1).toObject().value("connectionCount"_L1).toInt(), 2);
    const auto left = changes(console, u"participant_left"_s);
    QCOMPARE(left.size(), 2);
    QCOMPARE(left.at(0).value("reason"_L1).toString(), u"left"_s);
    // Every change numbered, one after another, from the snapshot's seq.
    QList<qint64> expected;
    for (qint64 s = start + 1; s < start + 1 + seqs(console).size(); ++s)
        expected.append(s);
    QCOMPARE(seqs(console), expected);
    // Ids, counts and reasons only: no chat or whiteboard content.
    a.join(u"q"_s, 8, 1, u"A"_s);
    b.join(u"q"_s, 8, 2, u"B"_s);
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"q"_s}, {u"appointmentId"_s, 8},
            {u"message"_s, u"very private words"_s}});
    QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    QTest::qWait(100);
    for (const QJsonObject &m : console.received())
        QVERIFY(!QJsonDocument(m).toJson().contains("very private words"));
}

void TestAdminStream::streamNeedsTheAdminToken()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    for (const QByteArray &auth : {QByteArray(), QByteArray("Bearer wrong-token-0123456789")}) {
        QByteArray request = "GET /admin/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        if (!auth.isEmpty())
            request += "Authorization: " + auth + "\r\n";
        const HttpResult r = rawHttp(server.port(), request + "\r\n");
        QCOMPARE(r.status, 401);
    }
    QCOMPARE(server.app().connections().adminStreamCount(), 0);
}

void TestAdminStream::streamRefusesForeignOrigins()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    QNetworkRequest r = bearer();
    r.setRawHeader("Origin", "https://evil.example");
    TestClient console;
    QVERIFY(!console.open(streamUrl(server), 3000, r));
    QCOMPARE(server.app().connections().adminStreamCount(), 0);
}

void TestAdminStream::resumesFromLastSeq()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    auto console = std::make_unique<TestClient>();
    QVERIFY(console->open(streamUrl(server), 5000, bearer()));
    const auto snapshot = console->waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    const QString epoch = snapshot->value("epoch"_L1).toString();
    a.join(u"r1"_s, 1, 1, u"A"_s);
    QTRY_COMPARE(changes(*console, u"participant_joined"_s).size(), 1);
    const qint64 lastSeen = seqs(*console).last();
    console.reset();

    // Changes while the console is away.
    a.join(u"r2"_s, 2, 1, u"A"_s);
    a.send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"r1"_s}});
    QTRY_VERIFY(!server.app().rooms().find(u"r1"_s));

    TestClient back;
    QVERIFY(back.open(streamUrl(server, u"since=%1&epoch=%2"_s.arg(lastSeen).arg(epoch)), 5000, bearer()));
    const auto resumed = back.waitFor(u"resumed"_s);
    QVERIFY(resumed);
    QCOMPARE(resumed->value("seq"_L1).toInteger(), lastSeen);
    QTRY_COMPARE(changes(back, u"room_closed"_s).size(), 1);
    QCOMPARE(changes(back, u"room_opened"_s).value(0).value("roomId"_L1).toString(), u"r2"_s);
    QCOMPARE(seqs(back).first(), lastSeen + 1);
    QVERIFY(back.staysQuiet(u"snapshot"_s, 100));
}

void TestAdminStream::freshSnapshotWhenTooFarBehind()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.adminStreamRing = 4;
    });
    QVERIFY(server.started());
    auto console = std::make_unique<TestClient>();
    QVERIFY(console->open(streamUrl(server), 5000, bearer()));
    const auto snapshot = console->waitFor(u"snapshot"_s);
    const QString epoch = snapshot->value("epoch"_L1).toString();
    const qint64 seen = snapshot->value("seq"_L1).toInteger();
    console.reset();
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    for (int i = 0; i < 6; ++i)
        a.join(u"room%1"_s.arg(i), i, 1, u"A"_s); // two changes each: more than the ring holds
    TestClient back;
    QVERIFY(back.open(streamUrl(server, u"since=%1&epoch=%2"_s.arg(seen).arg(epoch)), 5000, bearer()));
    const auto fresh = back.waitFor(u"snapshot"_s);
    QVERIFY(fresh);
    QCOMPARE(fresh->value("reset"_L1).toBool(), true);
    QCOMPARE(fresh->value("rooms"_L1).toArray().size(), 6);
    QVERIFY(back.staysQuiet(u"resumed"_s, 100));
}

void TestAdminStream::freshSnapshotAfterRestart()
{
    qint64 seen = 0;
    {
        TestServer first(withToken);
        QVERIFY(first.started());
        TestClient console;
        QVERIFY(console.open(streamUrl(first), 5000, bearer()));
        seen = console.waitFor(u"snapshot"_s)->value("seq"_L1).toInteger();
    }
    // Another server (or the same one restarted) has another epoch.
    TestServer second(withToken);
    QVERIFY(second.started());
    TestClient back;
    QVERIFY(back.open(streamUrl(second, u"since=%1&epoch=old"_s.arg(seen)), 5000, bearer()));
    const auto fresh = back.waitFor(u"snapshot"_s);
    QVERIFY(fresh);
    QCOMPARE(fresh->value("reset"_L1).toBool(), true);
}

void TestAdminStream::countersArriveWhileListening()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    QVERIFY(console.waitFor(u"snapshot"_s));
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    QTRY_VERIFY_WITH_TIMEOUT(!changes(console, u"counters"_s).isEmpty()
                                 && changes(console, u"counters"_s).last().value("connections"_L1).toInt() == 1,
                             5000);
    QCOMPARE(changes(console, u"counters"_s).last().value("adminStreams"_L1).toInt(), 1);
    // Draining is announced as it happens.
    server.app().beginDrain();
    QTRY_VERIFY_WITH_TIMEOUT(!changes(console, u"server"_s).isEmpty(), 5000);
    QCOMPARE(changes(console, u"server"_s).last().value("status"_L1).toString(), u"draining"_s);
}

void TestAdminStream::roomsArePagedAndFiltered()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    QList<std::shared_ptr<TestClient>> clients;
    for (int i = 0; i < 12; ++i) {
        auto c = std::make_shared<TestClient>();
        QVERIFY(c->open(server.wsUrl()));
        c->join(u"room-%1"_s.arg(i, 2, 10, QChar(u'0')), 100 + i, i + 1, i == 7 ? u"Ada Lovelace"_s : u"Pat"_s);
        clients.append(c);
    }
    const auto get = [&](const QString &query) {
        return httpGet(server.port(), "/admin/rooms?" + query.toUtf8(), kToken.toUtf8());
    };
    HttpResult r = get(u"offset=5&limit=4"_s);
    QCOMPARE(r.status, 200);
    QJsonObject page = r.json();
    QCOMPARE(page.value("total"_L1).toInt(), 12);
    QJsonArray rooms = page.value("rooms"_L1).toArray();
    QCOMPARE(rooms.size(), 4);
    QCOMPARE(rooms.at(0).toObject().value("id"_L1).toString(), u"room-05"_s);
    QVERIFY(!rooms.at(0).toObject().contains("participants"_L1));
    r = get(u"filter=lovelace"_s);
    page = r.json();
    QCOMPARE(page.value("total"_L1).toInt(), 1);
    QCOMPARE(page.value("rooms"_L1).toArray().at(0).toObject().value("id"_L1).toString(), u"room-07"_s);
    QCOMPARE(get(u"filter=103"_s).json().value("total"_L1).toInt(), 1);
    QCOMPARE(get(u"limit=0"_s).status, 400);
    QCOMPARE(get(u"offset=-1"_s).status, 400);
    QCOMPARE(httpGet(server.port(), "/admin/rooms").status, 401);
}

void TestAdminStream::oneRoomWithParticipants()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.waitingRoomByDefault = true;
    });
    QVERIFY(server.started());
    TestClient doctor, guest;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(guest.open(server.wsUrl()));
    doctor.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                 {u"userId"_s, 1}, {u"userName"_s, u"Doc"_s}, {u"role"_s, u"doctor"_s}});
    QVERIFY(doctor.waitFor(u"room_state"_s));
    guest.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                {u"userId"_s, 2}, {u"userName"_s, u"Guest"_s}});
    QVERIFY(guest.waitFor(u"waiting"_s));
    const HttpResult r = httpGet(server.port(), "/admin/rooms/r", kToken.toUtf8());
    QCOMPARE(r.status, 200);
    const QJsonObject room = r.json();
    QCOMPARE(room.value("participants"_L1).toArray().size(), 1);
    QCOMPARE(room.value("participants"_L1).toArray().at(0).toObject().value("host"_L1).toBool(), true);
    QCOMPARE(room.value("waiting"_L1).toArray().size(), 1);
    QCOMPARE(room.value("waiting"_L1).toArray().at(0).toObject().value("state"_L1).toString(), u"waiting"_s);
    QCOMPARE(room.value("waitingCount"_L1).toInt(), 1);
    QCOMPARE(room.value("hostPresent"_L1).toBool(), true);
    QCOMPARE(httpGet(server.port(), "/admin/rooms/nope", kToken.toUtf8()).status, 404);
}

void TestAdminStream::snapshotCarriesWholeRooms()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.waitingRoomByDefault = true;
    });
    QVERIFY(server.started());
    TestClient doctor, guest;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(guest.open(server.wsUrl()));
    doctor.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                 {u"userId"_s, 1}, {u"userName"_s, u"Doc"_s}, {u"role"_s, u"doctor"_s}});
    QVERIFY(doctor.waitFor(u"room_state"_s));
    guest.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                {u"userId"_s, 2}, {u"userName"_s, u"Guest"_s}});
    QVERIFY(guest.waitFor(u"waiting"_s));

    // Who is where, from the start: participants and waiting guests with
    // their names and times; the consultation's start in every summary.
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    const auto snapshot = console.waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    QVERIFY(snapshot->value("at"_L1).toInteger() > 0);
    const QJsonObject room = snapshot->value("rooms"_L1).toArray().at(0).toObject();
    QVERIFY(!room.value("createdAt"_L1).toString().isEmpty());
    const QJsonArray participants = room.value("participants"_L1).toArray();
    QCOMPARE(participants.size(), 1);
    QCOMPARE(participants.at(0).toObject().value("userName"_L1).toString(), u"Doc"_s);
    QCOMPARE(participants.at(0).toObject().value("host"_L1).toBool(), true);
    const QJsonArray waiting = room.value("waiting"_L1).toArray();
    QCOMPARE(waiting.size(), 1);
    QCOMPARE(waiting.at(0).toObject().value("userName"_L1).toString(), u"Guest"_s);
    QVERIFY(!waiting.at(0).toObject().value("joinedAt"_L1).toString().isEmpty());

    // A change's room summary carries the start too (and no people).
    TestClient other;
    QVERIFY(other.open(server.wsUrl()));
    other.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                {u"userId"_s, 3}, {u"userName"_s, u"Nurse"_s}, {u"role"_s, u"nurse"_s}});
    QTRY_COMPARE(changes(console, u"participant_joined"_s).size(), 1);
    const QJsonObject summary = changes(console, u"participant_joined"_s).at(0).value("room"_L1).toObject();
    QCOMPARE(summary.value("createdAt"_L1).toString(), room.value("createdAt"_L1).toString());
    QVERIFY(!summary.contains("participants"_L1));
}

void TestAdminStream::countersCarryTheCapAndRefusals()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.maxConnections = 1;
    });
    QVERIFY(server.started());
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    const auto snapshot = console.waitFor(u"snapshot"_s);
    QVERIFY(snapshot);
    const QJsonObject first = snapshot->value("counters"_L1).toObject();
    QCOMPARE(first.value("maxConnections"_L1).toInt(), 1);
    QCOMPARE(first.value("mode"_L1).toString(), u"development"_s);
    QVERIFY(first.value("residentMemoryBytes"_L1).toDouble() > 0);
    // The console's own stream does not take the clients' only place.
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    TestClient refused;
    QVERIFY(!refused.open(server.wsUrl(), 3000));
    QTRY_VERIFY_WITH_TIMEOUT(!changes(console, u"counters"_s).isEmpty()
                                 && changes(console, u"counters"_s)
                                            .last()
                                            .value("rejectionsByReason"_L1)
                                            .toObject()
                                            .value("too_many_connections"_L1)
                                            .toInt()
                                        == 1,
                             5000);
    QCOMPARE(changes(console, u"counters"_s).last().value("maxConnections"_L1).toInt(), 1);
    QCOMPARE(changes(console, u"counters"_s).last().value("connections"_L1).toInt(), 1);
}

void TestAdminStream::activityOnceASecondForRoomsThatMoved()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient a, b, quiet;
    QVERIFY(a.open(server.wsUrl()));
    QVERIFY(b.open(server.wsUrl()));
    QVERIFY(quiet.open(server.wsUrl()));
    a.join(u"busy"_s, 1, 1, u"A"_s);
    b.join(u"busy"_s, 1, 2, u"B"_s);
    quiet.join(u"quiet"_s, 2, 3, u"Q"_s);
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    QVERIFY(console.waitFor(u"snapshot"_s));
    // Whatever moved before the console came is reported once; then only
    // the rooms whose last activity moves.
    QTRY_VERIFY_WITH_TIMEOUT(!changes(console, u"counters"_s).isEmpty(), 5000);
    const qsizetype before = console.received().size();
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"busy"_s}, {u"appointmentId"_s, 1},
            {u"message"_s, u"private words"_s}});
    QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    const qint64 busyActivity = server.app().rooms().find(u"busy"_s)->lastActivityMs();
    const auto reported = [&] {
        const QList<QJsonObject> all = console.received();
        for (qsizetype i = before; i < all.size(); ++i) {
            if (all.at(i).value("change"_L1).toString() != u"activity"_s)
                continue;
            for (const QJsonValue &entry : all.at(i).value("rooms"_L1).toArray()) {
                const QJsonArray e = entry.toArray();
                if (e.at(0).toString() == u"busy"_s && e.at(1).toInteger() == busyActivity)
                    return true;
            }
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(reported(), 5000);
    const QList<QJsonObject> all = console.received();
    for (qsizetype i = before; i < all.size(); ++i) {
        for (const QJsonValue &entry : all.at(i).value("rooms"_L1).toArray())
            QVERIFY(entry.toArray().at(0).toString() != u"quiet"_s);
        QVERIFY(!QJsonDocument(all.at(i)).toJson().contains("private words"));
    }
}

void TestAdminStream::serverEventsThatAreNotRoomChanges()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    QVERIFY(console.waitFor(u"snapshot"_s));
    TestClient a;
    QVERIFY(a.open(server.wsUrl()));
    a.join(u"r"_s, 1, 1, u"A"_s);
    QCOMPARE(httpPost(server.port(), "/admin/rooms/r/close", {{u"reason"_s, u"test"_s}}, kToken.toUtf8()).status,
             200);
    QTRY_VERIFY(!changes(console, u"event"_s).isEmpty());
    const QJsonObject event = changes(console, u"event"_s).first().value("event"_L1).toObject();
    QCOMPARE(event.value("kind"_L1).toString(), u"admin"_s);
    QCOMPARE(event.value("roomId"_L1).toString(), u"r"_s);
    QCOMPARE(event.value("detail"_L1).toString(), u"close_room"_s);
    // Room events come once, as room changes, not again as events.
    for (const QJsonObject &e : changes(console, u"event"_s))
        QCOMPARE(e.value("event"_L1).toObject().value("kind"_L1).toString(), u"admin"_s);
}

void TestAdminStream::statsReportTheConnectionCap()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.maxConnections = 321;
    });
    QVERIFY(server.started());
    const HttpResult r = httpGet(server.port(), "/stats", kToken.toUtf8());
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("maxConnections"_L1).toInt(), 321);
    const auto stats = medrelay::adminapi::Stats::fromJson(r.json());
    QVERIFY(stats);
    QCOMPARE(stats->maxConnections, 321);
}

void TestAdminStream::waitingGuestIsDescribed()
{
    TestServer server([](ServerConfig &c) {
        withToken(c);
        c.waitingRoomByDefault = true;
    });
    QVERIFY(server.started());
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    QVERIFY(console.waitFor(u"snapshot"_s));
    TestClient doctor, guest;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(guest.open(server.wsUrl()));
    doctor.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                 {u"userId"_s, 1}, {u"userName"_s, u"Doc"_s}, {u"role"_s, u"doctor"_s}});
    QVERIFY(doctor.waitFor(u"room_state"_s));
    guest.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 1},
                {u"userId"_s, 2}, {u"userName"_s, u"Guest"_s}});
    QVERIFY(guest.waitFor(u"waiting"_s));
    // The guest as /stats shows it, so a console can name who waits and since when.
    QTRY_COMPARE(changes(console, u"participant_waiting"_s).size(), 1);
    const QJsonObject change = changes(console, u"participant_waiting"_s).at(0);
    const QJsonObject participant = change.value("participant"_L1).toObject();
    QCOMPARE(participant.value("connectionId"_L1).toString(), change.value("connectionId"_L1).toString());
    QCOMPARE(participant.value("userId"_L1).toString(), u"2"_s);
    QCOMPARE(participant.value("userName"_L1).toString(), u"Guest"_s);
    QCOMPARE(participant.value("state"_L1).toString(), u"waiting"_s);
    QVERIFY(!participant.value("joinedAt"_L1).toString().isEmpty());
}

void TestAdminStream::consolesBetweenTwoChangesShareOneSnapshot()
{
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient early;
    QVERIFY(early.open(server.wsUrl()));
    early.join(u"before"_s, 1, 1, u"E"_s);

    // Consoles opened one after another, a few milliseconds apart: those that
    // arrive between the same two changes get the very same snapshot (built
    // once, the same "at"), not one pass over the rooms each.
    constexpr int kConsoles = 5;
    std::vector<std::unique_ptr<TestClient>> consoles;
    QList<QJsonObject> snapshots;
    for (int i = 0; i < kConsoles; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->open(streamUrl(server), 5000, bearer()));
        const auto s = c->waitFor(u"snapshot"_s);
        QVERIFY(s);
        snapshots.append(*s);
        consoles.push_back(std::move(c));
    }
    int shared = 0;
    for (int i = 1; i < kConsoles; ++i) {
        if (snapshots.at(i).value("seq"_L1) == snapshots.at(i - 1).value("seq"_L1)) {
            QCOMPARE(snapshots.at(i), snapshots.at(i - 1));
            ++shared;
        }
    }
    QVERIFY2(shared > 0, "five consoles within a second all saw a change between them");

    // After a change the next console's snapshot is built anew and has it.
    TestClient late;
    QVERIFY(late.open(server.wsUrl()));
    late.join(u"after"_s, 2, 2, u"L"_s);
    QTRY_VERIFY(!changes(*consoles.front(), u"room_opened"_s).isEmpty());
    TestClient next;
    QVERIFY(next.open(streamUrl(server), 5000, bearer()));
    const auto fresh = next.waitFor(u"snapshot"_s);
    QVERIFY(fresh);
    QVERIFY(fresh->value("seq"_L1).toInteger() > snapshots.last().value("seq"_L1).toInteger());
    QStringList ids;
    for (const QJsonValue &r : fresh->value("rooms"_L1).toArray())
        ids.append(r.toObject().value("id"_L1).toString());
    ids.sort();
    QCOMPARE(ids, (QStringList{u"after"_s, u"before"_s}));
}

void TestAdminStream::whatAConsoleSendsGoesNowhere()
{
    // The stream is for listening: a console (or whoever holds the admin
    // token) that sends relay messages on it joins no room and reaches no one.
    TestServer server(withToken);
    QVERIFY(server.started());
    TestClient patient;
    QVERIFY(patient.open(server.wsUrl()));
    patient.join(u"r"_s, 7, 1, u"P"_s);
    TestClient console;
    QVERIFY(console.open(streamUrl(server), 5000, bearer()));
    QVERIFY(console.waitFor(u"snapshot"_s));
    console.send({{u"type"_s, u"telemedicine_user_joined"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 7},
                  {u"userId"_s, u"2"_s}, {u"userName"_s, u"X"_s}, {u"userRole"_s, u"doctor"_s}});
    console.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 7},
                  {u"message"_s, u"from the stream"_s}});
    // A message from a client after them arrives; theirs never did.
    TestClient doctor;
    QVERIFY(doctor.open(server.wsUrl()));
    doctor.join(u"r"_s, 7, 2, u"D"_s);
    doctor.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"r"_s}, {u"appointmentId"_s, 7},
                 {u"message"_s, u"hello"_s}});
    const auto chat = patient.waitFor(u"telemedicine_chat_message"_s);
    QVERIFY(chat);
    QCOMPARE(chat->value("message"_L1).toString(), u"hello"_s);
    int chats = 0;
    for (const QJsonObject &m : patient.received())
        chats += m.value("type"_L1).toString() == u"telemedicine_chat_message"_s;
    QCOMPARE(chats, 1);
    QTRY_COMPARE(changes(console, u"participant_joined"_s).size(), 1); // the doctor's, not the stream's
    QCOMPARE(changes(console, u"participant_joined"_s).at(0).value("participant"_L1).toObject()
                 .value("userName"_L1).toString(), u"D"_s);
    QVERIFY(console.isConnected());
}

QTEST_MAIN(TestAdminStream)
#include "tst_adminstream.moc"
