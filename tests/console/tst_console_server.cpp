// The console against a real medrelay-server (started with QProcess on an
// ephemeral port) and real WebSocket clients: what the clinic's IT person
// sees in the window follows what happens on the server, the keyboard and
// the confirmations act on the server, stale data is marked while the server
// is away, alerts follow its state, and what is remembered is private.
// Timeouts here only stop a broken test from hanging: every check waits for
// a state or an event, never for a deadline to pass.
#include "ConsoleFixture.h"
#include "ProcessSignal.h"
#include "RedisServer.h"
#include "ServerProcess.h"
#include "controller/ConsoleController.h"
#include "controller/DataSource.h"
#include "core/AdminClient.h"
#include "core/AlertsModel.h"
#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"
#include "widgets/AlertBanner.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/ConnectDialog.h"
#include "widgets/MainWindow.h"
#include "widgets/RoomTables.h"
#include "widgets/StatusHeader.h"

#include <QApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using medrelay::adminapi::ActionResult;
using medrelay::console::AdminClient;
using medrelay::console::AlertsModel;
using medrelay::console::Confirmation;
using medrelay::console::ConsoleController;
using medrelay::console::EventLogModel;
using medrelay::console::MainWindow;
using medrelay::console::RememberChoices;
using medrelay::console::RoomsModel;
using medrelay::consoletest::Console;
using medrelay::consoletest::RoomClient;
using medrelay::consoletest::joined;
using medrelay::consoletest::ServerProcess;
using State = medrelay::console::ConnectionState;

namespace {

const QString kToken = u"console-integration-token-0123456789"_s;
constexpr int kGuard = 15000; // only so that a broken test ends

// Settings in a scratch folder, as a person's would be.
struct ScratchSettings
{
    ScratchSettings()
        : qsettings(dir.filePath(u"medrelay-console.conf"_s), QSettings::IniFormat), settings(&qsettings)
    {
    }
    QTemporaryDir dir;
    QSettings qsettings;
    medrelay::console::ConsoleSettings settings;
};

// The server's own view, read without the console.
QStringList serverRoomIds(const ServerProcess &server)
{
    QNetworkAccessManager nam;
    QNetworkRequest request(server.httpUrl().resolved(QUrl(u"/stats"_s)));
    request.setRawHeader("Authorization", "Bearer " + kToken.toUtf8());
    QNetworkReply *reply = nam.get(request);
    QSignalSpy done(reply, &QNetworkReply::finished);
    if (!done.wait(kGuard))
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

template<typename Dialog>
Dialog *visibleDialog(const QWidget &parent)
{
    for (Dialog *d : parent.findChildren<Dialog *>()) {
        if (d->isVisible())
            return d;
    }
    return nullptr;
}

// Focus `view`, select the row whose `role` is `key`, as a click would.
bool selectInView(QTableView *view, int role, const QString &key)
{
    view->setFocus();
    for (int row = 0; row < view->model()->rowCount(); ++row) {
        if (view->model()->index(row, 0).data(role).toString() == key) {
            view->selectRow(row);
            return true;
        }
    }
    return false;
}

} // namespace

class TestConsoleServer final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roomsAndParticipantsAppear()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
        QVERIFY(console.controller.figures().has_value());

        RoomsModel *rooms = console.controller.rooms();
        QSignalSpy inserted(rooms, &QAbstractItemModel::rowsInserted);
        auto doctor = joined(server, u"cardio-101"_s, 101, 11, u"Dr Ada"_s, u"doctor"_s);
        auto patient = joined(server, u"cardio-101"_s, 101, 22, u"Pat Doe"_s, u"patient"_s);
        auto other = joined(server, u"derma-7"_s, 7, 33, u"Dr Lee"_s, u"doctor"_s);
        QVERIFY(doctor && patient && other);

        // The rooms arrive as rows inserted into the model (not a reset), with their people.
        const auto bothVisible = [&] {
            const auto *cardio = rooms->room(u"cardio-101"_s);
            const auto *derma = rooms->room(u"derma-7"_s);
            return cardio && derma && cardio->connectionCount == 2 && derma->connectionCount == 1;
        };
        QTRY_VERIFY_WITH_TIMEOUT(bothVisible(), kGuard);
        QVERIFY(inserted.count() >= 1);
        QCOMPARE(console.controller.roomsFilter()->rowCount(), 2);
        QCOMPARE(rooms->room(u"cardio-101"_s)->appointmentId, 101);

        QVERIFY(console.controller.selectRoom(u"cardio-101"_s));
        auto *people = console.controller.participants();
        QCOMPARE(people->rowCount(), 2);
        const auto *ada = people->participant(doctor->connectionId());
        QVERIFY(ada);
        QCOMPARE(ada->userId, u"11"_s);
        QCOMPARE(ada->role, u"doctor"_s);
        QVERIFY(ada->joinedAt.isValid());
        QVERIFY(!ada->address.isEmpty());
        QCOMPARE(people->participant(patient->connectionId())->userId, u"22"_s);

        // Server events reach the log: the joins, keyed by room.
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.controller.eventLog(), u"join"_s, u"cardio-101"_s), kGuard);

        // A participant leaving: the row goes from the selected room's table.
        QSignalSpy left(people, &QAbstractItemModel::rowsRemoved);
        patient->send({{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"cardio-101"_s}});
        QTRY_COMPARE_WITH_TIMEOUT(people->rowCount(), 1, kGuard);
        QCOMPARE(left.count(), 1);
        QCOMPARE(console.controller.currentRoomId(), u"cardio-101"_s);
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.controller.eventLog(), u"leave"_s, u"cardio-101"_s), kGuard);

        // The filter finds a room by a participant's name and by a user id.
        console.window.tables()->filterEdit()->setText(u"dr lee"_s);
        QCOMPARE(console.controller.roomsFilter()->rowCount(), 1);
        QCOMPARE(console.controller.roomsFilter()->index(0, 0).data(RoomsModel::RoomIdRole).toString(), u"derma-7"_s);
        console.window.tables()->filterEdit()->setText(u"11"_s);
        QCOMPARE(console.controller.roomsFilter()->index(0, 0).data(RoomsModel::RoomIdRole).toString(),
                 u"cardio-101"_s);
    }

    void deleteInTheRoomsTableClosesThatRoom()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        auto a = joined(server, u"close-me"_s, 1, 1, u"A"_s, u"doctor"_s);
        auto b = joined(server, u"close-me"_s, 1, 2, u"B"_s, u"patient"_s);
        auto c = joined(server, u"keep-me"_s, 2, 3, u"C"_s, u"doctor"_s);
        QVERIFY(a && b && c);
        RoomsModel *rooms = console.controller.rooms();
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"close-me"_s) && rooms->room(u"keep-me"_s), kGuard);

        // As the IT person does it: click the room, Delete, confirm.
        QTableView *view = console.window.roomsView();
        QVERIFY(selectInView(view, RoomsModel::RoomIdRole, u"close-me"_s));
        QTRY_VERIFY(view->hasFocus());
        QSignalSpy finished(console.controller.actions(), &medrelay::console::AdminActions::finished);
        QTest::keyClick(view, Qt::Key_Delete);
        auto *confirm = visibleDialog<medrelay::console::ConfirmDialog>(console.window);
        QVERIFY(confirm);
        QCOMPARE(confirm->windowTitle(), u"Close room"_s);
        confirm->accept();

        QVERIFY(finished.wait(kGuard));
        QCOMPARE(finished.at(0).at(0).value<AdminClient::Action>(), AdminClient::Action::CloseRoom);
        const auto result = finished.at(0).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QCOMPARE(result.rooms, QStringList{u"close-me"_s});

        // Members are told and taken out of the room; their sockets may stay
        // open for other rooms.
        QVERIFY(a->waitFor(u"room_closed"_s, kGuard));
        QVERIFY(b->waitFor(u"room_closed"_s, kGuard));
        QTRY_VERIFY_WITH_TIMEOUT(rooms->room(u"close-me"_s) == nullptr, kGuard);
        QVERIFY(rooms->room(u"keep-me"_s));
        QVERIFY(c->isConnected());
        QCOMPARE(serverRoomIds(server), QStringList{u"keep-me"_s});
        // Nothing is selected instead: a second Delete cannot hit the neighbour.
        QCOMPARE(console.controller.currentRoomId(), QString());
        QCOMPARE(console.controller.participants()->rowCount(), 0);
        QTest::keyClick(view, Qt::Key_Delete);
        QVERIFY(!visibleDialog<medrelay::console::ConfirmDialog>(console.window));
        // The action and its result are in the log, then the server's own event.
        QVERIFY(logHas(*console.controller.eventLog(), u"action"_s, u"close-me"_s));
        QTRY_VERIFY_WITH_TIMEOUT(logHas(*console.controller.eventLog(), u"room_closed"_s, u"close-me"_s), kGuard);
    }

    void participantsShowTheirInstanceInACluster()
    {
        using medrelay::console::ParticipantsModel;
        if (!medrelay::test::RedisServer::available())
            QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
        medrelay::test::RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.error()));
        const QStringList cluster{u"--redis"_s, redis.url()};
        ServerProcess one(kToken, cluster);
        ServerProcess two(kToken, cluster);
        QVERIFY2(one.start(), qPrintable(one.error()));
        QVERIFY2(two.start(), qPrintable(two.error()));
        Console console;
        console.controller.connectTo(one.httpUrl(), kToken);
        auto here = joined(one, u"split"_s, 5, 1, u"Here"_s, u"doctor"_s);
        auto there = joined(two, u"split"_s, 5, 2, u"There"_s, u"patient"_s);
        QVERIFY(here && there);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"split"_s), kGuard);
        QVERIFY(selectInView(console.window.roomsView(), RoomsModel::RoomIdRole, u"split"_s));
        ParticipantsModel *people = console.controller.participants();
        QTRY_COMPARE_WITH_TIMEOUT(people->rowCount(), 2, kGuard);
        const auto instanceOf = [people](const QString &connectionId) {
            const auto *p = people->participant(connectionId);
            return p ? p->instance : QString();
        };
        QTRY_VERIFY_WITH_TIMEOUT(!instanceOf(here->connectionId()).isEmpty(), kGuard);
        QTRY_VERIFY_WITH_TIMEOUT(!instanceOf(there->connectionId()).isEmpty(), kGuard);
        // Each participant on its own instance, and the column shows it.
        QVERIFY(instanceOf(here->connectionId()) != instanceOf(there->connectionId()));
        QTRY_VERIFY(!console.window.participantsView()->isColumnHidden(ParticipantsModel::InstanceColumn));

        // A room served only by the other instance is listed too, and goes when it closes there.
        auto far = joined(two, u"far"_s, 6, 3, u"Far"_s, u"patient"_s);
        QVERIFY(far);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"far"_s), kGuard);
        far->send(QJsonObject{{u"type"_s, u"telemedicine_user_left"_s}, {u"roomId"_s, u"far"_s}});
        QTRY_VERIFY_WITH_TIMEOUT(!console.controller.rooms()->room(u"far"_s), kGuard);
        QVERIFY(console.controller.rooms()->room(u"split"_s));
    }

    void redisOutOfReachRaisesTheClusterAlert()
    {
        if (!medrelay::test::RedisServer::available())
            QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
        medrelay::test::RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.error()));
        ServerProcess server(kToken, {u"--redis"_s, redis.url()});
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.figures().has_value(), kGuard);
        QVERIFY(!console.controller.alerts()->isActive(u"server.degraded"_s));
        // Redis goes away: the instance says degraded, and the console says why
        // (not as an audit problem: its audit log is fine).
        redis.stop();
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.alerts()->isActive(u"server.degraded"_s), kGuard);
        // The status comes at once; why (the cluster part) with the next counters.
        const auto title = [&console] {
            const auto *alert = console.controller.alerts()->find(u"server.degraded"_s);
            return alert ? alert->title : QString();
        };
        QTRY_COMPARE_WITH_TIMEOUT(title(), u"Cluster link down"_s, kGuard);
        QVERIFY(!console.controller.alerts()->isActive(u"server.auditBehind"_s));
        // Redis is back: the alert clears.
        QVERIFY2(redis.start(), qPrintable(redis.error()));
        QTRY_VERIFY_WITH_TIMEOUT(!console.controller.alerts()->isActive(u"server.degraded"_s), 60000);
    }

    void deleteInTheParticipantsTableDisconnectsThatParticipant()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        auto stays = joined(server, u"r"_s, 5, 1, u"Stays"_s, u"doctor"_s);
        auto goes = joined(server, u"r"_s, 5, 2, u"Goes"_s, u"patient"_s);
        QVERIFY(stays && goes);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"r"_s), kGuard);

        QVERIFY(selectInView(console.window.roomsView(), RoomsModel::RoomIdRole, u"r"_s));
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.participants()->rowCount(), 2, kGuard);
        // Tab leaves the rooms table without moving the selection to another room.
        QTest::keyClick(console.window.roomsView(), Qt::Key_Tab);
        QCOMPARE(console.controller.currentRoomId(), u"r"_s);
        QTableView *people = console.window.participantsView();
        // One instance: no instance column.
        QVERIFY(people->isColumnHidden(medrelay::console::ParticipantsModel::InstanceColumn));
        QVERIFY(selectInView(people, medrelay::console::ParticipantsModel::ConnectionIdRole, goes->connectionId()));
        QTRY_VERIFY(people->hasFocus());

        QSignalSpy finished(console.controller.actions(), &medrelay::console::AdminActions::finished);
        QTest::keyClick(people, Qt::Key_Delete);
        auto *confirm = visibleDialog<medrelay::console::ConfirmDialog>(console.window);
        QVERIFY(confirm);
        QCOMPARE(confirm->windowTitle(), u"Disconnect participant"_s);
        confirm->accept();
        QVERIFY(finished.wait(kGuard));
        QCOMPARE(finished.at(0).at(0).value<AdminClient::Action>(), AdminClient::Action::DisconnectConnection);
        QVERIFY2(finished.at(0).at(1).value<ActionResult>().ok,
                 qPrintable(finished.at(0).at(1).value<ActionResult>().message));
        QVERIFY(goes->waitDisconnected(kGuard));
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.participants()->rowCount(), 1, kGuard);
        QVERIFY(console.controller.participants()->participant(stays->connectionId()));
        QVERIFY(stays->isConnected());
        QVERIFY(console.controller.rooms()->room(u"r"_s)); // the room was not closed

        // An unknown connection is an error the console reports, not a crash.
        console.client.disconnectConnection(u"no-such-connection"_s, u"test"_s);
        QVERIFY(finished.wait(kGuard));
        const auto failed = finished.at(1).at(1).value<ActionResult>();
        QVERIFY(!failed.ok);
        QVERIFY(!failed.message.isEmpty());
    }

    void closeIdleClosesOnlyIdleRooms()
    {
        // The server's own idle sweep must not get there first.
        ServerProcess server(kToken, {u"--idle-room-timeout"_s, u"600"_s});
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        std::vector<std::unique_ptr<RoomClient>> quiet;
        for (int i = 0; i < 15; ++i) {
            quiet.push_back(joined(server, u"quiet-room-with-a-long-name-%1"_s.arg(i, 2, 10, QChar(u'0')), 100 + i,
                                   100 + i, u"Q"_s, u"doctor"_s));
            QVERIFY(quiet.back());
        }
        auto busy1 = joined(server, u"busy-room"_s, 2, 2, u"B1"_s, u"doctor"_s);
        auto busy2 = joined(server, u"busy-room"_s, 2, 3, u"B2"_s, u"patient"_s);
        QVERIFY(busy1 && busy2);

        // busy-room chats until the console shows (on the server's clock) that
        // every quiet room has been idle for 2 s or more.
        RoomsModel *rooms = console.controller.rooms();
        const auto quietLongEnough = [&] {
            for (const auto &q : quiet) {
                const auto *r = rooms->room(q->roomId());
                if (!r || rooms->idleSeconds(*r) < 2)
                    return false;
            }
            return true;
        };
        int n = 0;
        QDeadlineTimer guard(kGuard);
        while (!quietLongEnough() && !guard.hasExpired()) {
            ++n;
            (n % 2 ? busy1 : busy2)->chat(u"still here %1"_s.arg(n));
            QTest::qWait(100);
        }
        QVERIFY(quietLongEnough());

        // Through the confirmation workflow: the dry run names every idle room, in full.
        QSignalSpy asked(console.controller.actions(), &medrelay::console::AdminActions::confirmationRequested);
        QSignalSpy finished(console.controller.actions(), &medrelay::console::AdminActions::finished);
        // The busy room speaks last, and the server has relayed it, just before the question.
        const qsizetype seen = busy2->received().size();
        busy1->chat(u"one more"_s);
        QTRY_VERIFY_WITH_TIMEOUT(busy2->received().size() > seen, kGuard);
        QVERIFY(console.controller.actions()->requestCloseIdleRooms(2, u"idle test"_s));
        QVERIFY(asked.wait(kGuard));
        const auto confirmation = asked.at(0).at(0).value<Confirmation>();
        QCOMPARE(confirmation.kind, Confirmation::Kind::CloseIdleRooms);
        QStringList expected;
        for (const auto &q : quiet)
            expected.append(q->roomId());
        QStringList listed = confirmation.items;
        listed.sort();
        QCOMPARE(listed, expected);
        // The window lists them all, one per line.
        auto *dialog = visibleDialog<medrelay::console::ConfirmDialog>(console.window);
        QVERIFY(dialog);
        QCOMPARE(dialog->itemsView()->count(), 15);
        // A dry run closes nothing.
        QCOMPARE(serverRoomIds(server).size(), 16);
        QVERIFY(quiet.front()->isConnected());

        busy1->chat(u"and another"_s);
        QTRY_VERIFY_WITH_TIMEOUT(busy2->received().size() > seen + 1, kGuard);
        dialog->accept();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kGuard);
        QCOMPARE(finished.at(1).at(0).value<AdminClient::Action>(), AdminClient::Action::CloseIdleRooms);
        const auto result = finished.at(1).at(1).value<ActionResult>();
        QVERIFY2(result.ok, qPrintable(result.message));
        QStringList closed = result.rooms;
        closed.sort();
        QCOMPARE(closed, expected);
        for (const auto &q : quiet)
            QVERIFY(q->waitFor(u"room_closed"_s, kGuard));
        QTRY_COMPARE_WITH_TIMEOUT(rooms->rowCount(), 1, kGuard);
        QVERIFY(rooms->room(u"busy-room"_s));
        QVERIFY(busy1->isConnected() && busy2->isConnected());
        QVERIFY(!busy1->has(u"room_closed"_s) && !busy2->has(u"room_closed"_s));
        QCOMPARE(serverRoomIds(server), QStringList{u"busy-room"_s});
    }

    void wrongTokenIsUnauthorised()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), u"not-the-right-token-at-all"_s);
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unauthorised, kGuard);
        QVERIFY(console.controller.stateReason().contains(u"401"_s));
        QVERIFY(console.controller.stateReason().contains(u"refused"_s));
        QVERIFY(console.controller.alerts()->isActive(u"server.unauthorised"_s));
        // It does not keep knocking with a refused token: nothing is scheduled, and F5 is off.
        QVERIFY(!console.client.isPolling());
        QVERIFY(!console.controller.canRefresh());
        QVERIFY(!console.window.refreshAction()->isEnabled());
        QCOMPARE(console.controller.rooms()->rowCount(), 0);
    }

    void missingTokenIsAskedFor()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        ScratchSettings scratch;
        Console console(&scratch.settings);
        console.controller.connectTo(server.httpUrl(), QString(), RememberChoices{true, true});
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unauthorised, kGuard);
        QVERIFY(console.controller.stateReason().contains(u"needs an admin token"_s));
        // Not "refused": the dialog asks for the token, with the cursor in its field.
        auto *dialog = visibleDialog<medrelay::console::ConnectDialog>(console.window);
        QVERIFY(dialog);
        QCOMPARE(dialog->focusWidget(), dialog->tokenEdit());
        QCOMPARE(console.window.header()->stateText(), u"Admin token needed"_s);
        // Nothing about a server that refused us is remembered.
        QVERIFY(scratch.settings.recentServers().isEmpty());

        // The user types it and connects.
        QTest::keyClicks(dialog->tokenEdit(), kToken);
        QTest::keyClick(dialog->tokenEdit(), Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
        QCOMPARE(scratch.settings.recentServers(), QStringList{server.httpUrl().toString()});
    }

    void rememberedTokenIsPrivate()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        ScratchSettings scratch;
        Console console(&scratch.settings);
        // A mistyped address is not kept as a recent server.
        const QUrl typo(u"http://127.0.0.1:1"_s);
        console.controller.connectTo(typo, kToken, RememberChoices{true, true});
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Unreachable, kGuard);
        QVERIFY(scratch.settings.recentServers().isEmpty());

        console.controller.connectTo(server.httpUrl(), kToken, RememberChoices{true, true});
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
        QCOMPARE(scratch.settings.recentServers(), QStringList{server.httpUrl().toString()});
        QCOMPARE(scratch.settings.rememberedToken(server.httpUrl()).value_or(QString()), kToken);
        const QString tokenFile = scratch.settings.tokenFileName();
        QCOMPARE(QFileInfo(tokenFile).absolutePath(), QFileInfo(scratch.qsettings.fileName()).absolutePath());
        QCOMPARE(QFile::permissions(tokenFile) & ~(QFileDevice::ReadUser | QFileDevice::WriteUser),
                 QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        // The settings file (layout, servers) never holds it.
        scratch.settings.sync();
        QFile settingsFile(scratch.qsettings.fileName());
        QVERIFY(settingsFile.open(QIODevice::ReadOnly));
        QVERIFY(!settingsFile.readAll().contains(kToken.toUtf8()));
    }

    void staleWhileUnreachableThenLiveAgain()
    {
        ServerProcess server(kToken);
        QVERIFY2(server.start(), qPrintable(server.error()));
        const quint16 port = server.port();
        Console console;
        QSignalSpy restarted(console.controller.source(), &medrelay::console::DataSource::serverRestarted);
        console.controller.connectTo(server.httpUrl(), kToken);
        auto c = joined(server, u"before-restart"_s, 1, 1, u"A"_s, u"doctor"_s);
        QVERIFY(c);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"before-restart"_s), kGuard);
        QVERIFY(!console.controller.isStale());
        auto *header = console.window.header();
        QVERIFY(!header->isStale());

        QSignalSpy stale(&console.controller, &ConsoleController::staleChanged);
        // Killed, not stopped: a drain would close its rooms on the event
        // stream first, and the point here is what the console keeps of them.
        QVERIFY(medrelay::test::signalPid(server.processId(), SIGKILL));
        server.stop();
        QVERIFY(stale.wait(kGuard));
        QCOMPARE(console.controller.state(), State::Unreachable);
        QVERIFY(!console.controller.stateReason().isEmpty());
        // The last known state stays, greyed and dated; the alert says why.
        QVERIFY(console.controller.rooms()->room(u"before-restart"_s));
        QVERIFY(header->isStale());
        QVERIFY(!header->valueLabel(u"Rooms"_s)->font().bold());
        const QString at = console.controller.lastUpdate().toString(u"HH:mm:ss"_s);
        QVERIFY2(header->detailText().contains(u"last known at %1"_s.arg(at)), qPrintable(header->detailText()));
        QVERIFY(console.controller.alerts()->isActive(u"server.unreachable"_s));
        QVERIFY(console.window.alertBanner()->isVisible());
        QVERIFY(!console.controller.canCloseRoom());

        QVERIFY2(server.start(port), qPrintable(server.error()));
        QCOMPARE(server.port(), port);
        QVERIFY(stale.wait(kGuard));
        QCOMPARE(stale.last().at(0).toBool(), false);
        QVERIFY(console.controller.isLive());
        QVERIFY(!header->isStale());
        QVERIFY(header->valueLabel(u"Rooms"_s)->font().bold());
        QVERIFY(!console.controller.alerts()->isActive(u"server.unreachable"_s));
        // The new server has no rooms; the old one's rows go.
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.rooms()->rowCount(), 0, kGuard);
        // Its event numbers started again: the console notices the restart.
        QTRY_VERIFY_WITH_TIMEOUT(restarted.count() >= 1, kGuard);
        auto d = joined(server, u"after-restart"_s, 2, 2, u"B"_s, u"doctor"_s);
        QVERIFY(d);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"after-restart"_s), kGuard);
    }

    void drainingServerRaisesAnAlert()
    {
        ServerProcess server(kToken, {u"--drain-timeout"_s, u"20"_s});
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        QSignalSpy raised(console.controller.alerts(), &AlertsModel::alertRaised);
        console.controller.connectTo(server.httpUrl(), kToken);
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
        // A client that never answers the server's close keeps the drain going.
        auto silent = medrelay::consoletest::silentWebSocket(server);
        QVERIFY(silent);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.figures() && console.controller.figures()->connections == 1,
                                 kGuard);

        server.terminate();
        const auto drainingRaised = [&] {
            for (const auto &args : raised) {
                if (args.at(0).value<medrelay::console::Alert>().key == u"server.draining"_s)
                    return true;
            }
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(drainingRaised(), kGuard);
        // When the drain ends the server is gone: draining gives way to unreachable.
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.alerts()->isActive(u"server.unreachable"_s), kGuard);
        QVERIFY(!console.controller.alerts()->isActive(u"server.draining"_s));
    }

    void connectionsRefusedAtTheCap()
    {
        ServerProcess server(kToken, {u"--max-connections"_s, u"1"_s});
        QVERIFY2(server.start(), qPrintable(server.error()));
        Console console;
        console.controller.connectTo(server.httpUrl(), kToken);
        QTRY_COMPARE_WITH_TIMEOUT(console.controller.state(), State::Connected, kGuard);
        auto first = joined(server, u"full"_s, 1, 1, u"A"_s, u"doctor"_s);
        QVERIFY(first);
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.rooms()->room(u"full"_s), kGuard);
        QVERIFY(!console.controller.alerts()->isActive(u"server.refusedAtCap"_s));

        RoomClient refused;
        QVERIFY(!refused.open(server.wsUrl(), 3000));
        QTRY_VERIFY_WITH_TIMEOUT(console.controller.alerts()->isActive(u"server.refusedAtCap"_s), kGuard);
        const auto *alert = console.controller.alerts()->find(u"server.refusedAtCap"_s);
        QVERIFY2(alert->detail.startsWith(u"1 connection(s) refused"_s), qPrintable(alert->detail));
        QVERIFY(console.window.alertBanner()->texts().join(u'\n').contains(u"refused at the cap"_s));
    }
};

QTEST_MAIN(TestConsoleServer)
#include "tst_console_server.moc"
