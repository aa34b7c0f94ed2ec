// ConsoleController without widgets and without a server, fed by a
// FakeSource: the seam a second data source plugs into (snapshots and single
// changes reach the same models), selection that never jumps to another room,
// stale marking, the alerts, F5 after Disconnect, and what is remembered only
// once a server has answered. The same controller against a real server is
// in tst_console_server.
#include "FakeSource.h"
#include "controller/AlertRules.h"
#include "controller/ConsoleController.h"
#include "core/AdminClient.h"
#include "core/AlertsModel.h"
#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"

#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace medrelay;
using console::Alert;
using console::AlertsModel;
using console::ConnectionState;
using console::ConsoleController;
using console::RememberChoices;
using console::ServerFigures;
using consoletest::FakeSource;

namespace {

const QDateTime kT0 = QDateTime(QDate(2024, 5, 2), QTime(12, 0, 0), Qt::UTC);

adminapi::RoomInfo room(const QString &id, const QStringList &people, int idleSeconds = 0)
{
    adminapi::RoomInfo r;
    r.id = id;
    r.appointmentId = 7;
    r.connectionCount = static_cast<int>(people.size());
    r.createdAt = kT0.addSecs(-600);
    r.lastActivity = kT0.addSecs(-idleSeconds);
    for (const QString &name : people) {
        adminapi::ParticipantInfo p;
        p.connectionId = u"%1/%2"_s.arg(id, name);
        p.userId = QString::number(qHash(name) % 1000);
        p.userName = name;
        r.participants.append(p);
    }
    return r;
}

ServerFigures figures(int connections, std::optional<int> cap = std::nullopt, qint64 refusedAtCap = 0,
                      const QDateTime &at = kT0)
{
    ServerFigures f;
    f.version = u"0.1.0"_s;
    f.status = u"healthy"_s;
    f.timestamp = at;
    f.connections = connections;
    f.hasRates = true;
    f.maxConnections = cap;
    f.rejectionsByReason.insert(u"too_many_connections"_s, refusedAtCap);
    return f;
}

// A controller on a FakeSource, connected and live.
struct Fixture
{
    explicit Fixture(console::ConsoleSettings *settings = nullptr)
        : controller(&client, settings)
    {
        source = new FakeSource;
        controller.setSource(source);
        controller.connectTo(QUrl(u"http://127.0.0.1:9"_s), u"a-token-of-sixteen-chars"_s);
    }
    void live() { source->set(ConnectionState::Connected); }
    console::AdminClient client;
    ConsoleController controller;
    FakeSource *source = nullptr;
};

// A rule for data servers do not send yet (here: a made-up figure), plugged in from outside.
class RoomCountRule final : public console::AlertRule
{
public:
    void evaluate(const console::AlertContext &context, AlertsModel &alerts) override
    {
        if (context.rooms && context.rooms->rowCount() >= 3)
            alerts.raise({u"test.rooms"_s, Alert::Severity::Warning, u"Three rooms"_s, {}, {}});
        else
            alerts.clear(u"test.rooms"_s);
    }
};

} // namespace

class TestController final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void snapshotsAndChangesFeedTheSameModels()
    {
        Fixture f;
        QCOMPARE(f.source->starts, 1);
        f.live();
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {u"Ann"_s}), room(u"b"_s, {u"Bob"_s, u"Bea"_s})}, kT0);
        QCOMPARE(f.controller.rooms()->rowCount(), 2);
        QVERIFY(f.controller.selectRoom(u"b"_s));
        QCOMPARE(f.controller.participants()->rowCount(), 2);

        // A stream would send single changes: a participant leaves b, c opens.
        QSignalSpy resets(f.controller.rooms(), &QAbstractItemModel::modelReset);
        Q_EMIT f.source->roomUpdated(room(u"b"_s, {u"Bob"_s}), kT0.addSecs(1));
        Q_EMIT f.source->roomUpdated(room(u"c"_s, {u"Cy"_s}), kT0.addSecs(1));
        QCOMPARE(f.controller.rooms()->rowCount(), 3);
        QCOMPARE(f.controller.participants()->rowCount(), 1);
        QCOMPARE(f.controller.participants()->items().constFirst().userName, u"Bob"_s);
        QCOMPARE(f.controller.currentRoomId(), u"b"_s);

        // The selected room closes: nothing is selected, not a neighbour.
        QSignalSpy selection(&f.controller, &ConsoleController::roomSelectionChanged);
        Q_EMIT f.source->roomRemoved(u"b"_s, kT0.addSecs(2));
        QCOMPARE(f.controller.currentRoomId(), QString());
        QCOMPARE(selection.count(), 1);
        QCOMPARE(f.controller.participants()->rowCount(), 0);
        QVERIFY(!f.controller.canCloseRoom());
        QCOMPARE(resets.count(), 0);

        // Events and activity go through the same seam.
        adminapi::Event e;
        e.seq = 4;
        e.kind = u"join"_s;
        e.roomId = u"c"_s;
        const int before = f.controller.eventLog()->rowCount();
        Q_EMIT f.source->eventsReceived({e});
        QCOMPARE(f.controller.eventLog()->rowCount(), before + 1);
        console::ActivitySample sample;
        sample.time = kT0;
        sample.connections = 3;
        Q_EMIT f.source->activitySampled(sample);
        QCOMPARE(f.controller.history().size(), 1);
        Q_EMIT f.source->figuresUpdated(figures(3));
        QVERIFY(f.controller.figures().has_value());
        QCOMPARE(f.controller.figures()->connections, 3);
    }

    void selectionFollowsTheFilter()
    {
        Fixture f;
        f.live();
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {u"Ann Smith"_s}), room(u"b"_s, {u"Bob Jones"_s})}, kT0);
        QVERIFY(f.controller.selectRoom(u"a"_s));
        QVERIFY(f.controller.selectParticipant(u"a/Ann Smith"_s));
        QVERIFY(f.controller.canDisconnectParticipant());
        // A name finds its room; the other room is hidden and cannot be selected.
        f.controller.setFilterText(u"jones"_s);
        QCOMPARE(f.controller.roomsFilter()->rowCount(), 1);
        QCOMPARE(f.controller.currentRoomId(), QString());
        QCOMPARE(f.controller.currentConnectionId(), QString());
        QVERIFY(!f.controller.selectRoom(u"a"_s));
        QVERIFY(f.controller.selectRoom(u"b"_s));
        f.controller.setFilterText({});
        QCOMPARE(f.controller.currentRoomId(), u"b"_s);
        // Selecting another room forgets the participant picked in the first.
        QVERIFY(f.controller.selectParticipant(u"b/Bob Jones"_s));
        QVERIFY(f.controller.selectRoom(u"a"_s));
        QCOMPARE(f.controller.currentConnectionId(), QString());
        QVERIFY(!f.controller.selectParticipant(u"b/Bob Jones"_s));
    }

    void staleWhileTheServerIsAway()
    {
        Fixture f;
        QSignalSpy stale(&f.controller, &ConsoleController::staleChanged);
        // Nothing shown yet: nothing to call stale.
        f.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        QVERIFY(!f.controller.isStale());
        f.live();
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {u"Ann"_s})}, kT0);
        QVERIFY(f.controller.lastUpdate().isValid());
        const QDateTime lastKnown = f.controller.lastUpdate();
        QVERIFY(!f.controller.isStale());
        QCOMPARE(stale.count(), 0);

        f.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        QVERIFY(f.controller.isStale());
        QCOMPARE(stale.count(), 1);
        QCOMPARE(stale.at(0).at(0).toBool(), true);
        QCOMPARE(f.controller.lastUpdate(), lastKnown);
        // The last known rooms stay on show (greyed by the window), and no action is offered on them.
        QCOMPARE(f.controller.rooms()->rowCount(), 1);
        QVERIFY(f.controller.selectRoom(u"a"_s));
        QVERIFY(!f.controller.canCloseRoom());

        f.live();
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {u"Ann"_s})}, kT0.addSecs(30));
        QVERIFY(!f.controller.isStale());
        QCOMPARE(stale.count(), 2);
        QVERIFY(f.controller.canCloseRoom());

        // Disconnect clears what was shown: nothing left to be stale.
        f.controller.disconnectFromServer();
        QVERIFY(!f.controller.isStale());
        QCOMPARE(f.controller.rooms()->rowCount(), 0);
    }

    void refreshNeedsAConnection()
    {
        Fixture f;
        f.live();
        QVERIFY(f.controller.canRefresh());
        f.controller.refresh();
        QCOMPARE(f.source->refreshes, 1);
        f.controller.disconnectFromServer();
        QCOMPARE(f.controller.state(), ConnectionState::Disconnected);
        QVERIFY(!f.controller.canRefresh());
        f.controller.refresh(); // F5 after Disconnect
        QCOMPARE(f.source->refreshes, 1);
        QCOMPARE(f.source->starts, 1);
        QCOMPARE(f.controller.state(), ConnectionState::Disconnected);
        // A refused token is not retried by F5 either.
        f.controller.connectTo(QUrl(u"http://127.0.0.1:9"_s), u"wrong-token-of-sixteen"_s);
        f.source->set(ConnectionState::Unauthorised, u"HTTP 401"_s);
        QVERIFY(!f.controller.canRefresh());
        // Unreachable: F5 retries at once.
        f.source->set(ConnectionState::Unreachable, u"refused"_s);
        QVERIFY(f.controller.canRefresh());
        f.controller.refresh();
        QCOMPARE(f.source->refreshes, 2);
    }

    void missingTokenIsAskedFor()
    {
        Fixture f;
        QSignalSpy asked(&f.controller, &ConsoleController::tokenRequested);
        f.controller.connectTo(QUrl(u"http://127.0.0.1:9"_s), QString());
        f.source->set(ConnectionState::Unauthorised, u"the server needs an admin token (HTTP 401)"_s);
        QCOMPARE(asked.count(), 1);
        QCOMPARE(asked.at(0).at(0).toUrl(), QUrl(u"http://127.0.0.1:9"_s));
        QCOMPARE(f.controller.stateTitle(), u"Admin token needed"_s);
        QCOMPARE(f.controller.alerts()->find(u"server.unauthorised"_s)->title, u"Admin token needed"_s);
        // A wrong token is not "missing": it is refused.
        f.controller.connectTo(QUrl(u"http://127.0.0.1:9"_s), u"wrong-token-of-sixteen"_s);
        f.source->set(ConnectionState::Unauthorised, u"the server refused the admin token (HTTP 401)"_s);
        QCOMPARE(asked.count(), 1);
        QCOMPARE(f.controller.stateTitle(), console::Connection::stateName(ConnectionState::Unauthorised));
        QCOMPARE(f.controller.alerts()->find(u"server.unauthorised"_s)->title, u"Admin token refused"_s);
    }

    void remembersOnlyWhatAnswered()
    {
        QTemporaryDir dir;
        QSettings qs(dir.filePath(u"console.ini"_s), QSettings::IniFormat);
        console::ConsoleSettings settings(&qs);
        Fixture f(&settings);
        const QUrl typo(u"http://relay.invalid:9003"_s);
        f.controller.connectTo(typo, u"token-for-a-typo-0000"_s, RememberChoices{true, true});
        f.source->set(ConnectionState::Unreachable, u"host not found"_s);
        QVERIFY(settings.recentServers().isEmpty());
        QVERIFY(!settings.rememberedToken(typo));

        const QUrl good(u"http://127.0.0.1:9003"_s);
        f.controller.connectTo(good, u"token-that-works-0000"_s, RememberChoices{true, true});
        QVERIFY(settings.recentServers().isEmpty());
        f.live();
        QCOMPARE(settings.recentServers(), QStringList{u"http://127.0.0.1:9003"_s});
        QCOMPARE(settings.rememberedToken(good).value_or(QString()), u"token-that-works-0000"_s);
        QCOMPARE(QFile::permissions(settings.tokenFileName()) & 0x0077, QFileDevice::Permissions());

        // Started with --server (no choice made): a remembered token stays.
        f.controller.connectTo(good, u"token-that-works-0000"_s);
        f.live();
        QVERIFY(settings.rememberedToken(good));

        // Unticked: forgotten at once, before the server answers.
        f.controller.connectTo(good, u"token-that-works-0000"_s, RememberChoices{true, false});
        QVERIFY(!settings.rememberedToken(good));
    }

    void connectionAlerts()
    {
        Fixture f;
        AlertsModel *alerts = f.controller.alerts();
        QSignalSpy raised(alerts, &AlertsModel::alertRaised);
        f.live();
        QCOMPARE(alerts->rowCount(), 0);

        f.source->set(ConnectionState::Draining, u"the server is shutting down"_s);
        QVERIFY(alerts->isActive(u"server.draining"_s));
        QCOMPARE(alerts->find(u"server.draining"_s)->severity, Alert::Severity::Critical);
        f.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        QVERIFY(!alerts->isActive(u"server.draining"_s));
        QVERIFY(alerts->isActive(u"server.unreachable"_s));
        QVERIFY(alerts->find(u"server.unreachable"_s)->detail.contains(u"connection refused"_s));
        QCOMPARE(raised.count(), 2);
        // The same alert again (another failed retry) is not announced again.
        f.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        f.source->set(ConnectionState::Unreachable, u"timed out"_s);
        QCOMPARE(raised.count(), 2);
        QVERIFY(alerts->find(u"server.unreachable"_s)->detail.contains(u"timed out"_s));
        f.live();
        QCOMPARE(alerts->rowCount(), 0);
        // Draining as /health reports it while the state is still "connected".
        ServerFigures draining = figures(2);
        draining.status = u"draining"_s;
        Q_EMIT f.source->figuresUpdated(draining);
        QVERIFY(alerts->isActive(u"server.draining"_s));
        // Another server: its alerts start afresh.
        f.controller.connectTo(QUrl(u"http://127.0.0.1:10"_s), {});
        QCOMPARE(alerts->rowCount(), 0);
    }

    void connectionsNearTheCap()
    {
        Fixture f;
        f.live();
        AlertsModel *alerts = f.controller.alerts();
        // A server that does not report its cap: no such alert, whatever the count.
        Q_EMIT f.source->figuresUpdated(figures(19'999));
        QVERIFY(!alerts->isActive(u"server.nearCap"_s));
        Q_EMIT f.source->figuresUpdated(figures(899, 1000));
        QVERIFY(!alerts->isActive(u"server.nearCap"_s));
        Q_EMIT f.source->figuresUpdated(figures(900, 1000));
        QVERIFY(alerts->isActive(u"server.nearCap"_s));
        QVERIFY(alerts->find(u"server.nearCap"_s)->detail.contains(u"900 of 1000"_s));
        QCOMPARE(alerts->find(u"server.nearCap"_s)->severity, Alert::Severity::Warning);
        // Hovering just under the line does not make it flicker.
        Q_EMIT f.source->figuresUpdated(figures(880, 1000));
        QVERIFY(alerts->isActive(u"server.nearCap"_s));
        Q_EMIT f.source->figuresUpdated(figures(1000, 1000));
        QCOMPARE(alerts->find(u"server.nearCap"_s)->severity, Alert::Severity::Critical);
        Q_EMIT f.source->figuresUpdated(figures(849, 1000));
        QVERIFY(!alerts->isActive(u"server.nearCap"_s));
    }

    void refusalsAtTheCap()
    {
        Fixture f;
        f.live();
        AlertsModel *alerts = f.controller.alerts();
        const QString key = u"server.refusedAtCap"_s;
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 4, kT0)); // refusals before we looked
        QVERIFY(!alerts->isActive(key));
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 7, kT0.addSecs(1)));
        QVERIFY(alerts->isActive(key));
        QVERIFY2(alerts->find(key)->detail.startsWith(u"3 connection(s) refused"_s),
                 qPrintable(alerts->find(key)->detail));
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 8, kT0.addSecs(60)));
        QVERIFY(alerts->find(key)->detail.startsWith(u"4 connection(s) refused"_s));
        // Quiet for five minutes of the server's clock: cleared.
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 8, kT0.addSecs(60 + 299)));
        QVERIFY(alerts->isActive(key));
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 8, kT0.addSecs(60 + 300)));
        QVERIFY(!alerts->isActive(key));
        // A restarted server counts from zero again: that is not a refusal.
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 0, kT0.addSecs(400)));
        Q_EMIT f.source->figuresUpdated(figures(10, std::nullopt, 0, kT0.addSecs(401)));
        QVERIFY(!alerts->isActive(key));
    }

    void moreRulesPlugIn()
    {
        Fixture f;
        f.live();
        f.controller.addAlertRule(std::make_unique<RoomCountRule>());
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {}), room(u"b"_s, {})}, kT0);
        QVERIFY(!f.controller.alerts()->isActive(u"test.rooms"_s));
        Q_EMIT f.source->roomUpdated(room(u"c"_s, {}), kT0);
        QVERIFY(f.controller.alerts()->isActive(u"test.rooms"_s));
        Q_EMIT f.source->roomRemoved(u"c"_s, kT0);
        QVERIFY(!f.controller.alerts()->isActive(u"test.rooms"_s));
    }

    void alertsModelOrder()
    {
        AlertsModel alerts;
        alerts.raise({u"w1"_s, Alert::Severity::Warning, u"W1"_s, {}, {}});
        alerts.raise({u"c1"_s, Alert::Severity::Critical, u"C1"_s, {}, {}});
        alerts.raise({u"w2"_s, Alert::Severity::Warning, u"W2"_s, {}, {}});
        alerts.raise({u"c2"_s, Alert::Severity::Critical, u"C2"_s, {}, {}});
        QStringList keys;
        for (const Alert &a : alerts.alerts())
            keys.append(a.key);
        QCOMPARE(keys, (QStringList{u"c1"_s, u"c2"_s, u"w1"_s, u"w2"_s}));
        const QDateTime since = alerts.find(u"w1"_s)->since;
        alerts.raise({u"w1"_s, Alert::Severity::Critical, u"W1 worse"_s, {}, {}});
        QCOMPARE(alerts.alerts().at(2).key, u"w1"_s);
        QCOMPARE(alerts.find(u"w1"_s)->since, since);
        alerts.clearPrefix(u"c"_s);
        QCOMPARE(alerts.rowCount(), 3 - 1);
    }

    void confirmationsNameWhatWouldHappen()
    {
        Fixture f;
        f.live();
        Q_EMIT f.source->roomsReplaced({room(u"a"_s, {u"Ann"_s, u"Al"_s})}, kT0);
        QSignalSpy asked(f.controller.actions(), &console::AdminActions::confirmationRequested);
        QVERIFY(!f.controller.closeSelectedRoom()); // nothing selected
        QCOMPARE(asked.count(), 0);
        QVERIFY(f.controller.selectRoom(u"a"_s));
        QVERIFY(f.controller.closeSelectedRoom());
        QCOMPARE(asked.count(), 1);
        auto c = asked.at(0).at(0).value<console::Confirmation>();
        QCOMPARE(c.kind, console::Confirmation::Kind::CloseRoom);
        QCOMPARE(c.roomId, u"a"_s);
        QVERIFY(c.message.contains(u"2 participant"_s));
        QVERIFY(f.controller.selectParticipant(u"a/Al"_s));
        QVERIFY(f.controller.disconnectSelectedParticipant());
        c = asked.at(1).at(0).value<console::Confirmation>();
        QCOMPARE(c.kind, console::Confirmation::Kind::DisconnectParticipant);
        QCOMPARE(c.connectionId, u"a/Al"_s);
        // A cancel leaves nothing in the status line.
        QSignalSpy status(&f.controller, &ConsoleController::statusMessage);
        f.controller.actions()->cancel(c);
        QCOMPARE(status.count(), 1);
        QCOMPARE(status.at(0).at(0).toString(), QString());
    }
};

QTEST_GUILESS_MAIN(TestController)
#include "tst_controller.moc"
