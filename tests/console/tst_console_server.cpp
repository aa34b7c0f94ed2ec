// The console against a real medrelay-server (started with QProcess on an
// ephemeral port) and real WebSocket clients: what the clinic's IT person
// sees in the window follows what happens on the server, and the admin
// actions act on the server.
#include "ServerProcess.h"
#include "core/AdminClient.h"
#include "core/EventLogModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomsModel.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/MainWindow.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QtTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using medrelay::adminapi::ActionResult;
using medrelay::console::AdminClient;
using medrelay::console::EventLogModel;
using medrelay::console::MainWindow;
using medrelay::console::ParticipantsModel;
using medrelay::console::RoomsModel;
using medrelay::consoletest::RoomClient;
using medrelay::consoletest::ServerProcess;
using State = AdminClient::State;

namespace {

const QString kToken = u"console-integration-token-0123456789"_s;

// The console as the IT person runs it, polling twice a second so that "within
// a second" has room for one full poll cycle.
struct Console
{
    Console()
    {
        client.setPollInterval(500ms);
        client.setBackoffLimits(200ms, 1000ms);
        window.resize(1280, 800);
        window.show();
    }
    AdminClient client;
    MainWindow window{&client, nullptr};
};

std::unique_ptr<RoomClient> joined(const ServerProcess &server, const QString &room, qint64 appointment, qint64 user,
                                   const QString &name, const QString &role)
{
    auto c = std::make_unique<RoomClient>();
    if (!c->open(server.wsUrl()))
        return nullptr;
    if (!c->join(room, appointment, user, name, role))
        return nullptr;
    return c;
}

// The server's own view, read without the console.
QStringList serverRoomIds(const ServerProcess &server)
{
    QNetworkAccessManager nam;
    QNetworkRequest request(server.httpUrl().resolved(QUrl(u"/stats"_s)));
    request.setRawHeader("Authorization", "Bearer " + kToken.toUtf8());
    QNetworkReply *reply = nam.get(request);
    QSignalSpy done(reply, &QNetworkReply::finished);
    if (!done.wait(5000))
        return {u"<timeout>"_s};
    QStringList ids;
    const QJsonObject o = QJsonDocument::fromJson(reply->readAll()).object();
    for (const QJsonValue &r : o.value("roomDetails"_L1).toArray())
        ids.append(r.toObject().value("id"_L1).toString());
    reply->deleteLater();
    ids.sort();
    return ids;
}

bool logHas(const EventLogModel &log, const QString &kind, const QString &roomId)
{
    for (const auto &e : log.entries()) {
        if (e.kind == kind && (roomId.isEmpty() || e.roomId == roomId))
            return true;
    }
    return false;
}

} // namespace

class TestConsoleServer final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roomsAndParticipantsAppearWithinASecond()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.window.connectTo(server.httpUrl(), kToken);
        QTRY_COMPARE_WITH_TIMEOUT(console.client.state(), State::Connected, 5000);
        QVERIFY(console.client.lastStats().has_value());

        auto doctor = joined(server, u"cardio-101"_s, 101, 11, u"Dr Ada"_s, u"doctor"_s);
        auto patient = joined(server, u"cardio-101"_s, 101, 22, u"Pat Doe"_s, u"patient"_s);
        auto other = joined(server, u"derma-7"_s, 7, 33, u"Dr Lee"_s, u"doctor"_s);
        QVERIFY(doctor && patient && other);
        QElapsedTimer sinceJoin;
        sinceJoin.start();

        RoomsModel *rooms = console.window.roomsModel();
        const auto bothVisible = [&] {
            const auto *cardio = rooms->room(u"cardio-101"_s);
            const auto *derma = rooms->room(u"derma-7"_s);
            return cardio && derma && cardio->connectionCount == 2 && derma->connectionCount == 1;
        };
        QTRY_VERIFY_WITH_TIMEOUT(bothVisible(), 1000);
        qInfo("rooms visible %lld ms after the last join", sinceJoin.elapsed());
        QCOMPARE(console.window.roomsProxy()->rowCount(), 2);
        QCOMPARE(rooms->room(u"cardio-101"_s)->appointmentId, 101);

        QVERIFY(console.window.selectRoom(u"cardio-101"_s));
        ParticipantsModel *people = console.window.participantsModel();
        QCOMPARE(people->rowCount(), 2);
        const auto *ada = people->participant(doctor->connectionId());
        QVERIFY(ada);
        QCOMPARE(ada->userId, u"11"_s);
        QCOMPARE(ada->role, u"doctor"_s);
        QVERIFY(ada->joinedAt.isValid());
        QVERIFY(!ada->address.isEmpty());
        QCOMPARE(people->participant(patient->connectionId())->userId, u"22"_s);

        // Server events reach the log: the joins, keyed by room.
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.window.eventLog(), u"join"_s, u"cardio-101"_s), 2000);

        // A participant leaving shows within a second too, in the selected room.
        patient->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"cardio-101"_s}});
        QTRY_COMPARE_WITH_TIMEOUT(people->rowCount(), 1, 1000);
        QCOMPARE(console.window.currentRoomId(), u"cardio-101"_s);
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.window.eventLog(), u"leave"_s, u"cardio-101"_s), 2000);
    }

    void closingARoomRemovesIt()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.window.connectTo(server.httpUrl(), kToken);
        auto a = joined(server, u"close-me"_s, 1, 1, u"A"_s, u"doctor"_s);
        auto b = joined(server, u"close-me"_s, 1, 2, u"B"_s, u"patient"_s);
        auto c = joined(server, u"keep-me"_s, 2, 3, u"C"_s, u"doctor"_s);
        QVERIFY(a && b && c);
        RoomsModel *rooms = console.window.roomsModel();
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"close-me"_s) && rooms->room(u"keep-me"_s), 2000);

        // Through the window, as the IT person does it: select, Delete, confirm.
        QVERIFY(console.window.selectRoom(u"close-me"_s));
        QSignalSpy finished(&console.client, &AdminClient::actionFinished);
        console.window.closeSelectedRoom();
        auto *confirm = console.window.findChild<medrelay::console::ConfirmDialog *>();
        QVERIFY(confirm);
        QTRY_VERIFY(confirm->isVisible());
        confirm->accept();

        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
        QCOMPARE(finished.at(0).at(0).value<AdminClient::Action>(), AdminClient::Action::CloseRoom);
        const auto result = finished.at(0).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(result.rooms, QStringList{u"close-me"_s});

        // Members are told and taken out of the room; their sockets may stay
        // open for other rooms.
        QVERIFY(a->waitFor(u"room_closed"_s));
        QVERIFY(b->waitFor(u"room_closed"_s));
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"close-me"_s) == nullptr, 1500);
        QVERIFY(rooms->room(u"keep-me"_s));
        QVERIFY(c->isConnected());
        QCOMPARE(serverRoomIds(server), QStringList{u"keep-me"_s});
        QCOMPARE(console.window.currentRoomId(), QString());
        QCOMPARE(console.window.participantsModel()->rowCount(), 0);
        // The action and its result are in the log, then the server's own event.
        QVERIFY(logHas(*console.window.eventLog(), u"action"_s, u"close-me"_s));
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.window.eventLog(), u"room_closed"_s, u"close-me"_s), 2000);
    }

    void closeIdleClosesOnlyIdleRooms()
    {
        // The server's own idle sweep must not get there first.
        ServerProcess server(kToken, {u"--idle-room-timeout"_s, u"60"_s});
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.window.connectTo(server.httpUrl(), kToken);
        auto quiet = joined(server, u"quiet-room"_s, 1, 1, u"Q"_s, u"doctor"_s);
        auto busy1 = joined(server, u"busy-room"_s, 2, 2, u"B1"_s, u"doctor"_s);
        auto busy2 = joined(server, u"busy-room"_s, 2, 3, u"B2"_s, u"patient"_s);
        QVERIFY(quiet && busy1 && busy2);

        // quiet-room says nothing for ~3 s while busy-room chats.
        QElapsedTimer t;
        t.start();
        int n = 0;
        while (t.elapsed() < 3000) {
            ++n;
            (n % 2 ? busy1 : busy2)->chat(u"still here %1"_s.arg(n));
            QTest::qWait(200);
        }
        RoomsModel *rooms = console.window.roomsModel();
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"quiet-room"_s) && rooms->room(u"busy-room"_s), 2000);
        QTRY_VERIFY_WITH_TIMEOUT(rooms->idleSeconds(*rooms->room(u"quiet-room"_s)) >= 2, 2000);
        QVERIFY(rooms->idleSeconds(*rooms->room(u"busy-room"_s)) < 2);

        QSignalSpy finished(&console.client, &AdminClient::actionFinished);
        console.client.closeIdleRooms(2, u"idle test"_s, true);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
        QCOMPARE(finished.at(0).at(0).value<AdminClient::Action>(), AdminClient::Action::CloseIdleRoomsDryRun);
        auto result = finished.at(0).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(result.rooms, QStringList{u"quiet-room"_s});
        // A dry run closes nothing.
        QCOMPARE(serverRoomIds(server), (QStringList{u"busy-room"_s, u"quiet-room"_s}));
        QVERIFY(quiet->isConnected());

        busy1->chat(u"one more"_s);
        console.client.closeIdleRooms(2, u"idle test"_s, false);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 5000);
        QCOMPARE(finished.at(1).at(0).value<AdminClient::Action>(), AdminClient::Action::CloseIdleRooms);
        result = finished.at(1).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(result.rooms, QStringList{u"quiet-room"_s});
        QVERIFY(quiet->waitFor(u"room_closed"_s));
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"quiet-room"_s) == nullptr, 1500);
        QVERIFY(rooms->room(u"busy-room"_s));
        QVERIFY(busy1->isConnected() && busy2->isConnected());
        QVERIFY(!busy1->has(u"room_closed"_s) && !busy2->has(u"room_closed"_s));
        QCOMPARE(serverRoomIds(server), QStringList{u"busy-room"_s});
    }

    void disconnectingAParticipant()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.window.connectTo(server.httpUrl(), kToken);
        auto stays = joined(server, u"r"_s, 5, 1, u"Stays"_s, u"doctor"_s);
        auto goes = joined(server, u"r"_s, 5, 2, u"Goes"_s, u"patient"_s);
        QVERIFY(stays && goes);
        QTRY_VERIFY_WITH_TIMEOUT(console.window.selectRoom(u"r"_s), 2000);
        QTRY_COMPARE_WITH_TIMEOUT(console.window.participantsModel()->rowCount(), 2, 2000);

        QSignalSpy finished(&console.client, &AdminClient::actionFinished);
        console.client.disconnectConnection(goes->connectionId(), u"test"_s);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
        const auto result = finished.at(0).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QVERIFY(goes->waitDisconnected());
        QTRY_COMPARE_WITH_TIMEOUT(console.window.participantsModel()->rowCount(), 1, 1500);
        QVERIFY(console.window.participantsModel()->participant(stays->connectionId()));
        QVERIFY(stays->isConnected());

        // An unknown connection is an error the console reports, not a crash.
        console.client.disconnectConnection(u"no-such-connection"_s, u"test"_s);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 5000);
        const auto failed = finished.at(1).at(1).value<ActionResult>();
        QVERIFY(!failed.ok);
        QVERIFY(!failed.message.isEmpty());
    }

    void wrongTokenIsUnauthorised_data()
    {
        QTest::addColumn<QString>("token");
        QTest::addRow("wrong") << u"not-the-right-token-at-all"_s;
        QTest::addRow("none") << QString();
    }

    void wrongTokenIsUnauthorised()
    {
        QFETCH(QString, token);
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        QSignalSpy states(&console.client, &AdminClient::stateChanged);
        console.window.connectTo(server.httpUrl(), token);
        QTRY_COMPARE_WITH_TIMEOUT(console.client.state(), State::Unauthorised, 5000);
        QVERIFY(console.client.stateReason().contains(u"401"_s));
        // It does not keep knocking with a refused token.
        const qsizetype seen = states.count();
        QTest::qWait(1500);
        QCOMPARE(states.count(), seen);
        QCOMPARE(console.client.state(), State::Unauthorised);
        QCOMPARE(console.window.roomsModel()->rowCount(), 0);
    }

    void unreachableThenReconnects()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        const quint16 port = server.port();
        Console console;
        QSignalSpy restarted(&console.client, &AdminClient::serverRestarted);
        console.window.connectTo(server.httpUrl(), kToken);
        auto c = joined(server, u"before-restart"_s, 1, 1, u"A"_s, u"doctor"_s);
        QVERIFY(c);
        QTRY_VERIFY_WITH_TIMEOUT(console.window.roomsModel()->room(u"before-restart"_s), 2000);

        server.stop();
        QTRY_COMPARE_WITH_TIMEOUT(console.client.state(), State::Unreachable, 5000);
        QVERIFY(!console.client.stateReason().isEmpty());
        qInfo("unreachable: %s", qPrintable(console.client.stateReason()));
        QTest::qWait(1500); // a few failed attempts, so the backoff has grown

        QVERIFY2(server.start(port), qPrintable(server.error()));
        QCOMPARE(server.port(), port);
        QTRY_COMPARE_WITH_TIMEOUT(console.client.state(), State::Connected, 5000);
        // The new server has no rooms; the old one's rows go.
        QTRY_COMPARE_WITH_TIMEOUT(console.window.roomsModel()->rowCount(), 0, 2000);
        QVERIFY(restarted.count() >= 1);
        auto d = joined(server, u"after-restart"_s, 2, 2, u"B"_s, u"doctor"_s);
        QVERIFY(d);
        QTRY_VERIFY_WITH_TIMEOUT(console.window.roomsModel()->room(u"after-restart"_s), 2000);
    }
};

QTEST_MAIN(TestConsoleServer)
#include "tst_console_server.moc"
