// MainWindow over a ConsoleController fed by a FakeSource (no server): the
// tables follow the data in place, keyboard actions act on what is selected
// in the table that has the focus, the filter, stale marking, the alert
// banner, the connect dialog, the chart's scales, the window's size and
// title, and rendering in light and dark palettes.
#include "FakeSource.h"
#include "controller/ConsoleController.h"
#include "core/AdminClient.h"
#include "core/AlertsModel.h"
#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/LaunchOptions.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"
#include "widgets/ActivityChart.h"
#include "widgets/AlertBanner.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/ConnectDialog.h"
#include "widgets/ConsoleApp.h"
#include "widgets/MainWindow.h"
#include "widgets/RoomTables.h"
#include "widgets/StatusHeader.h"

#include <QApplication>
#include <QComboBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace Qt::StringLiterals;
using namespace medrelay;
using console::ConnectionState;
using console::ConsoleController;
using console::MainWindow;
using console::RoomsModel;
using consoletest::FakeSource;

namespace {

adminapi::RoomInfo room(const QString &id, int people, int idleSeconds, const QDateTime &now)
{
    adminapi::RoomInfo r;
    r.id = id;
    r.appointmentId = 1000 + people;
    r.connectionCount = people;
    r.createdAt = now.addSecs(-600);
    r.lastActivity = now.addSecs(-idleSeconds);
    for (int i = 0; i < people; ++i) {
        adminapi::ParticipantInfo p;
        p.connectionId = u"%1-%2"_s.arg(id).arg(i);
        p.userId = QString::number(i + 1);
        p.userName = i == 0 ? u"Dr %1"_s.arg(id) : u"Guest %1"_s.arg(i);
        p.role = i == 0 ? u"doctor"_s : u"patient"_s;
        p.joinedAt = r.createdAt;
        p.lastActivity = r.lastActivity;
        r.participants.append(p);
    }
    return r;
}

console::ServerFigures figures(int rooms, int connections, const QDateTime &now)
{
    console::ServerFigures f;
    f.version = u"0.1.0"_s;
    f.mode = u"development"_s;
    f.status = u"healthy"_s;
    f.timestamp = now;
    f.uptimeSeconds = 3725;
    f.rooms = rooms;
    f.connections = connections;
    f.hasRates = true;
    f.messagesInPerSecond = 4;
    f.messagesOutPerSecond = 6;
    return f;
}

// A window on a controller on a FakeSource, connected, showing `rooms`.
struct Console
{
    explicit Console(console::ConsoleSettings *settings = nullptr)
        : controller(&client, settings), window(&controller)
    {
        source = new FakeSource;
        controller.setSource(source);
        window.resize(1280, 800);
        window.show();
        QApplication::setActiveWindow(&window);
        controller.connectTo(QUrl(u"http://127.0.0.1:9003"_s), u"a-token-of-sixteen-chars"_s);
        source->set(ConnectionState::Connected);
    }
    void feed(const QList<adminapi::RoomInfo> &rooms, const QDateTime &now)
    {
        int people = 0;
        for (const auto &r : rooms)
            people += r.connectionCount;
        Q_EMIT source->figuresUpdated(figures(static_cast<int>(rooms.size()), people, now));
        Q_EMIT source->roomsReplaced(rooms, now);
    }
    console::AdminClient client;
    ConsoleController controller;
    MainWindow window;
    FakeSource *source = nullptr;
};

QString selectedRoomInView(const MainWindow &window)
{
    const QModelIndexList rows = window.roomsView()->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.constFirst().data(RoomsModel::RoomIdRole).toString();
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

void closeDialogs(const QWidget &parent)
{
    for (QDialog *d : parent.findChildren<QDialog *>())
        d->reject();
}

} // namespace

class TestMainWindow final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void selectionSurvivesRefreshes()
    {
        Console c;
        const QDateTime t0 = QDateTime::currentDateTimeUtc();
        c.feed({room(u"a"_s, 1, 5, t0), room(u"b"_s, 3, 50, t0), room(u"c"_s, 2, 500, t0)}, t0);
        QCOMPARE(c.controller.roomsFilter()->rowCount(), 3);
        // Sort by idle, longest first, as an administrator hunting idle rooms would.
        c.window.roomsView()->sortByColumn(RoomsModel::IdleColumn, Qt::DescendingOrder);
        QVERIFY(c.controller.selectRoom(u"b"_s));
        QCOMPARE(selectedRoomInView(c.window), u"b"_s);
        QCOMPARE(c.controller.participants()->rowCount(), 3);
        c.window.participantsView()->selectRow(1);
        const QString chosen = c.controller.currentConnectionId();
        QVERIFY(!chosen.isEmpty());

        QSignalSpy resets(c.controller.rooms(), &QAbstractItemModel::modelReset);
        for (int i = 1; i <= 5; ++i) {
            const QDateTime t = t0.addSecs(i);
            QList<adminapi::RoomInfo> rooms{room(u"c"_s, 2, 500, t0), room(u"a"_s, 1, 5, t0),
                                            room(u"b"_s, 3 + (i % 2), 50, t0)};
            if (i == 3)
                rooms.append(room(u"d"_s, 1, 0, t));
            c.feed(rooms, t);
        }
        QCOMPARE(resets.count(), 0);
        QCOMPARE(c.controller.currentRoomId(), u"b"_s);
        QCOMPARE(selectedRoomInView(c.window), u"b"_s);
        QCOMPARE(c.window.roomsView()->horizontalHeader()->sortIndicatorSection(), int(RoomsModel::IdleColumn));
        QCOMPARE(c.controller.roomsFilter()->index(0, 0).data(RoomsModel::RoomIdRole).toString(), u"c"_s);
        QCOMPARE(c.controller.participants()->rowCount(), 4);
        QCOMPARE(c.controller.currentConnectionId(), chosen);
        QCOMPARE(c.window.participantsView()->selectionModel()->selectedRows().size(), 1);

        // The selected room closes: its participants go with it, and the view selects nothing.
        c.feed({room(u"a"_s, 1, 5, t0)}, t0.addSecs(7));
        QCOMPARE(c.controller.currentRoomId(), QString());
        QCOMPARE(c.controller.participants()->rowCount(), 0);
        QVERIFY(c.window.roomsView()->selectionModel()->selectedRows().isEmpty());

        // Filtering the selected room out of view unselects it too.
        QVERIFY(c.controller.selectRoom(u"a"_s));
        QTest::keyClicks(c.window.tables()->filterEdit(), u"zzz"_s);
        QCOMPARE(c.controller.currentRoomId(), QString());
        QCOMPARE(c.controller.participants()->rowCount(), 0);
    }

    void keyboardActsOnTheFocusedTable()
    {
        Console c;
        const QDateTime t0 = QDateTime::currentDateTimeUtc();
        c.feed({room(u"a"_s, 2, 5, t0), room(u"b"_s, 2, 50, t0), room(u"c"_s, 2, 500, t0)}, t0);
        QTableView *rooms = c.window.roomsView();
        QTableView *people = c.window.participantsView();
        rooms->setFocus();
        QTRY_VERIFY(rooms->hasFocus());
        QVERIFY(c.controller.selectRoom(u"a"_s));

        // Tab leaves the table; the selection stays on the room the user picked.
        QTest::keyClick(rooms, Qt::Key_Tab);
        QVERIFY(!rooms->hasFocus());
        QCOMPARE(c.controller.currentRoomId(), u"a"_s);
        QCOMPARE(selectedRoomInView(c.window), u"a"_s);

        QSignalSpy asked(c.controller.actions(), &console::AdminActions::confirmationRequested);
        // Delete in the participants table disconnects its selected participant, not the room.
        people->setFocus();
        QTRY_VERIFY(people->hasFocus());
        people->selectRow(1);
        const QString person = c.controller.currentConnectionId();
        QVERIFY(!person.isEmpty());
        QTest::keyClick(people, Qt::Key_Delete);
        QCOMPARE(asked.count(), 1);
        auto confirmation = asked.at(0).at(0).value<console::Confirmation>();
        QCOMPARE(confirmation.kind, console::Confirmation::Kind::DisconnectParticipant);
        QCOMPARE(confirmation.connectionId, person);
        auto *dialog = visibleDialog<console::ConfirmDialog>(c.window);
        QVERIFY(dialog);
        QCOMPARE(dialog->windowTitle(), u"Disconnect participant"_s);
        dialog->reject();

        // Delete in the rooms table closes the room selected there.
        rooms->setFocus();
        QTRY_VERIFY(rooms->hasFocus());
        QTest::keyClick(rooms, Qt::Key_Delete);
        QCOMPARE(asked.count(), 2);
        confirmation = asked.at(1).at(0).value<console::Confirmation>();
        QCOMPARE(confirmation.kind, console::Confirmation::Kind::CloseRoom);
        QCOMPARE(confirmation.roomId, u"a"_s);
        closeDialogs(c.window);

        // In the filter box Delete edits the text.
        QLineEdit *filter = c.window.tables()->filterEdit();
        filter->setFocus();
        QTRY_VERIFY(filter->hasFocus());
        QTest::keyClicks(filter, u"ab"_s);
        QTest::keyClick(filter, Qt::Key_Home);
        QTest::keyClick(filter, Qt::Key_Delete);
        QCOMPARE(filter->text(), u"b"_s);
        QCOMPARE(asked.count(), 2);

        // Nothing selected in the focused table: Delete does nothing.
        filter->clear();
        people->setFocus();
        QTRY_VERIFY(people->hasFocus());
        QVERIFY(c.controller.selectRoom(u"b"_s));
        QCOMPARE(c.controller.currentConnectionId(), QString());
        QTest::keyClick(people, Qt::Key_Delete);
        QCOMPARE(asked.count(), 2);
    }

    void filterFindsPeopleAndSaysWhenNothingMatches()
    {
        Console c;
        const QDateTime t0 = QDateTime::currentDateTimeUtc();
        QList<adminapi::RoomInfo> rooms;
        for (int i = 0; i < 200; ++i)
            rooms.append(room(u"room-%1"_s.arg(i, 3, 10, QChar(u'0')), 1, i, t0));
        rooms.append(room(u"zz-last"_s, 2, 1, t0)); // sorts last; its guest is "Guest 1"
        c.feed(rooms, t0);
        QTableView *view = c.window.roomsView();
        QLineEdit *filter = c.window.tables()->filterEdit();
        QLabel *placeholder = c.window.tables()->roomsPlaceholder();
        QVERIFY(!placeholder->isVisible());

        // Scrolled to the end, then filtered: the matches are in view, from the top.
        view->scrollToBottom();
        QVERIFY(view->verticalScrollBar()->value() > 0);
        QTest::keyClicks(filter, u"guest 1"_s);
        QCOMPARE(c.controller.roomsFilter()->rowCount(), 1);
        QCOMPARE(view->verticalScrollBar()->value(), 0);
        QVERIFY(view->visualRect(c.controller.roomsFilter()->index(0, 0)).intersects(view->viewport()->rect()));

        filter->clear();
        view->scrollToBottom();
        QTest::keyClicks(filter, u"Dr room-00"_s); // ten doctors, by name
        QCOMPARE(c.controller.roomsFilter()->rowCount(), 10);
        QCOMPARE(view->verticalScrollBar()->value(), 0);

        QTest::keyClicks(filter, u"x"_s);
        QCOMPARE(c.controller.roomsFilter()->rowCount(), 0);
        QVERIFY(placeholder->isVisible());
        QVERIFY2(placeholder->text().contains(u"No matching rooms"_s), qPrintable(placeholder->text()));

        // Escape clears the filter; every room is back.
        filter->setFocus();
        QTest::keyClick(filter, Qt::Key_Escape);
        QCOMPARE(filter->text(), QString());
        QCOMPARE(c.controller.roomsFilter()->rowCount(), 201);
        QVERIFY(!placeholder->isVisible());
    }

    void staleFiguresAreGreyedAndDated()
    {
        Console c;
        const QDateTime t0 = QDateTime::currentDateTimeUtc();
        c.feed({room(u"a"_s, 2, 5, t0)}, t0);
        console::StatusHeader *header = c.window.header();
        QLabel *connections = header->valueLabel(u"Connections"_s);
        QVERIFY(connections);
        QCOMPARE(connections->text(), u"2"_s);
        QVERIFY(connections->font().bold());
        QVERIFY(!header->isStale());
        const QPalette live = c.window.roomsView()->palette();

        c.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        QVERIFY(header->isStale());
        QVERIFY(!connections->font().bold());
        QCOMPARE(connections->foregroundRole(), QPalette::PlaceholderText);
        const QString lastKnown = c.controller.lastUpdate().toString(u"HH:mm:ss"_s);
        QVERIFY2(header->detailText().contains(u"last known at %1"_s.arg(lastKnown)), qPrintable(header->detailText()));
        QVERIFY(c.window.chart()->isStale());
        const QPalette stale = c.window.roomsView()->palette();
        QCOMPARE(stale.color(QPalette::Text), live.color(QPalette::Disabled, QPalette::Text));
        QCOMPARE(c.window.participantsView()->palette().color(QPalette::Text),
                 live.color(QPalette::Disabled, QPalette::Text));

        // Data flows again: live look, no date.
        c.source->set(ConnectionState::Connected);
        c.feed({room(u"a"_s, 3, 0, t0.addSecs(40))}, t0.addSecs(40));
        QVERIFY(!header->isStale());
        QVERIFY(connections->font().bold());
        QCOMPARE(connections->text(), u"3"_s);
        QVERIFY(!header->detailText().contains(u"last known"_s));
        QVERIFY(!c.window.chart()->isStale());
        QCOMPARE(c.window.roomsView()->palette().color(QPalette::Text), live.color(QPalette::Text));
    }

    void alertsShowInTheBanner()
    {
        Console c;
        console::AlertBanner *banner = c.window.alertBanner();
        QVERIFY(!banner->isVisible());
        c.source->set(ConnectionState::Draining, u"the server is shutting down"_s);
        QVERIFY(banner->isVisible());
        QCOMPARE(banner->texts().size(), 1);
        QVERIFY(banner->texts().constFirst().contains(u"Server draining"_s));
        c.source->set(ConnectionState::Unreachable, u"connection refused"_s);
        QCOMPARE(banner->texts().size(), 1);
        QVERIFY(banner->texts().constFirst().contains(u"Server unreachable"_s));
        c.source->set(ConnectionState::Connected);
        QVERIFY(!banner->isVisible());
    }

    void idleRoomsAreListedInFull()
    {
        Console c;
        QStringList names;
        for (int i = 0; i < 40; ++i)
            names.append(u"consultation-room-with-a-long-name-%1"_s.arg(i));
        console::Confirmation confirmation;
        confirmation.kind = console::Confirmation::Kind::CloseIdleRooms;
        confirmation.title = u"Close idle rooms"_s;
        confirmation.message = u"40 rooms"_s;
        confirmation.confirmText = u"Close 40 rooms"_s;
        confirmation.items = names;
        Q_EMIT c.controller.actions()->confirmationRequested(confirmation);
        auto *dialog = visibleDialog<console::ConfirmDialog>(c.window);
        QVERIFY(dialog);
        QListWidget *list = dialog->itemsView();
        QVERIFY(list->isVisible());
        QCOMPARE(list->count(), 40);
        QStringList shown;
        for (int i = 0; i < list->count(); ++i)
            shown.append(list->item(i)->text());
        QCOMPARE(shown, names);
        QVERIFY(!list->wordWrap());
        // Not all fit: the list scrolls, the dialog stays on screen.
        QVERIFY(list->verticalScrollBar()->maximum() > 0);
        QVERIFY(dialog->height() < 800);
        dialog->reject();
    }

    void connectDialogLabelsAndPlaceholder()
    {
        QTemporaryDir dir;
        QSettings qs(dir.filePath(u"c.ini"_s), QSettings::IniFormat);
        console::ConsoleSettings settings(&qs);
        console::ConnectDialog dialog(&settings);
        dialog.show();
        QApplication::setActiveWindow(&dialog);
        QTRY_VERIFY(dialog.isActiveWindow());
        // Each label has its field as buddy: the '&' is a mnemonic, not text.
        for (QLabel *label : dialog.findChildren<QLabel *>()) {
            if (label->text().contains(u'&'))
                QVERIFY2(label->buddy(), qPrintable(label->text()));
        }
        // The placeholder is words, not something that passes for an address.
        const QString placeholder = dialog.serverEdit()->lineEdit()->placeholderText();
        QVERIFY(!placeholder.isEmpty());
        QVERIFY2(!console::parseServerUrl(placeholder), qPrintable(placeholder));
        QVERIFY(!placeholder.contains(u"127.0.0.1"_s));
        // Alt+T puts the cursor in the token field.
        dialog.serverEdit()->setFocus();
        QTRY_VERIFY(dialog.serverEdit()->hasFocus());
        QTest::keyClick(&dialog, Qt::Key_T, Qt::AltModifier);
        QTRY_VERIFY(dialog.tokenEdit()->hasFocus());
        QCOMPARE(dialog.tokenEdit()->text(), QString());
        QTest::keyClick(&dialog, Qt::Key_S, Qt::AltModifier);
        QTRY_VERIFY(dialog.serverEdit()->hasFocus());
    }

    void missingTokenOpensTheDialogAtTheTokenField()
    {
        QTemporaryDir dir;
        QSettings qs(dir.filePath(u"c.ini"_s), QSettings::IniFormat);
        console::ConsoleSettings settings(&qs);
        Console c(&settings);
        c.controller.connectTo(QUrl(u"http://127.0.0.1:9003"_s), QString());
        c.source->set(ConnectionState::Unauthorised, u"the server needs an admin token (HTTP 401)"_s);
        auto *dialog = visibleDialog<console::ConnectDialog>(c.window);
        QVERIFY(dialog);
        QCOMPARE(dialog->focusWidget(), dialog->tokenEdit());
        QCOMPARE(dialog->serverEdit()->currentText(), u"http://127.0.0.1:9003"_s);
        QCOMPARE(c.window.header()->stateText(), u"Admin token needed"_s);
        dialog->reject();
    }

    void windowFitsHalfAScreenAndNamesItsServerOnce()
    {
        // A large desktop font (the offscreen platform's default is smaller).
        const QFont before = QApplication::font();
        QFont desktop(u"DejaVu Sans"_s);
        desktop.setPointSizeF(12);
        QApplication::setFont(desktop);
        const auto restore = qScopeGuard([&before] { QApplication::setFont(before); });
        Console c;
        qInfo("minimum width %d with %s", c.window.minimumSizeHint().width(),
              qPrintable(QFontInfo(c.window.font()).family()));
        // Half of a 1920-pixel screen, less a window frame.
        QVERIFY2(c.window.minimumSizeHint().width() <= 940, qPrintable(QString::number(c.window.minimumSizeHint().width())));
        c.window.resize(940, 700);
        QCOMPARE(c.window.width(), 940);
        // The platform adds the application's name; the window title must not repeat it.
        QCOMPARE(c.window.windowTitle(), u"http://127.0.0.1:9003"_s);
        QApplication::setApplicationDisplayName(u"medrelay console"_s);
        QVERIFY(!c.window.windowTitle().contains(QApplication::applicationDisplayName()));
    }

    void refreshIsOffAfterDisconnect()
    {
        Console c;
        QVERIFY(c.window.refreshAction()->isEnabled());
        c.controller.disconnectFromServer();
        QVERIFY(!c.window.refreshAction()->isEnabled());
        c.window.refreshAction()->trigger();
        QCOMPARE(c.source->refreshes, 0);
        QCOMPARE(c.controller.state(), ConnectionState::Disconnected);
    }

    void eventsReachTheLog()
    {
        Console c;
        const int before = c.controller.eventLog()->rowCount();
        adminapi::Event e;
        e.seq = 1;
        e.kind = u"join"_s;
        e.roomId = u"r1"_s;
        e.timestamp = QDateTime::currentDateTimeUtc();
        Q_EMIT c.source->eventsReceived({e, e});
        QCOMPARE(c.controller.eventLog()->rowCount(), before + 2);
    }

    void rendersInLightAndDark_data()
    {
        QTest::addColumn<int>("palette");
        QTest::addRow("light") << int(console::LaunchOptions::Palette::Light);
        QTest::addRow("dark") << int(console::LaunchOptions::Palette::Dark);
    }

    void rendersInLightAndDark()
    {
        QFETCH(int, palette);
        console::applyPalette(*qApp, static_cast<console::LaunchOptions::Palette>(palette));
        Console c;
        QDateTime t = QDateTime::currentDateTimeUtc().addSecs(-120);
        for (int i = 0; i < 120; ++i) {
            t = t.addSecs(1);
            if (i > 40 && i < 50)
                continue; // a gap, as when the server was unreachable
            console::ActivitySample s;
            s.time = t;
            s.messagesInPerSecond = 10 + 5 * std::sin(i / 10.0);
            s.messagesOutPerSecond = s.messagesInPerSecond * 1.5;
            s.connections = 3;
            Q_EMIT c.source->activitySampled(s);
            c.feed({room(u"r1"_s, 2, i % 30, t), room(u"r2"_s, 1, 200, t)}, t);
        }
        const QPixmap shot = c.window.grab();
        QCOMPARE(shot.size() / shot.devicePixelRatio(), QSize(1280, 800));
        // The chart drew its series: some pixels carry the messages-in colour.
        const QImage chartImage = c.window.chart()->grab().toImage();
        int seriesPixels = 0;
        for (int y = 0; y < chartImage.height(); ++y)
            for (int x = 0; x < chartImage.width(); ++x)
                if (chartImage.pixelColor(x, y) == console::ActivityChart::messagesInColor())
                    ++seriesPixels;
        QVERIFY2(seriesPixels > 20, qPrintable(QString::number(seriesPixels)));
    }

    void chartScalesAreRound_data()
    {
        QTest::addColumn<double>("peak");
        QTest::addColumn<double>("step");
        QTest::addColumn<int>("ticks");
        QTest::addColumn<QStringList>("labels");
        // An empty chart: 0 to 5 by 1, not 1.3, 2.5, 3.8.
        QTest::addRow("idle") << 0.0 << 1.0 << 5 << QStringList{u"0"_s, u"1"_s, u"2"_s, u"3"_s, u"4"_s, u"5"_s};
        QTest::addRow("5.5") << 5.5 << 2.0 << 3 << QStringList{u"0"_s, u"2"_s, u"4"_s, u"6"_s};
        QTest::addRow("42") << 42.0 << 10.0 << 5 << QStringList{u"0"_s, u"10"_s, u"20"_s, u"30"_s, u"40"_s, u"50"_s};
        QTest::addRow("730") << 730.0 << 200.0 << 4 << QStringList{u"0"_s, u"200"_s, u"400"_s, u"600"_s, u"800"_s};
        QTest::addRow("23k") << 23'000.0 << 5'000.0 << 5
                             << QStringList{u"0"_s, u"5k"_s, u"10k"_s, u"15k"_s, u"20k"_s, u"25k"_s};
    }

    void chartScalesAreRound()
    {
        QFETCH(double, peak);
        QFETCH(double, step);
        QFETCH(int, ticks);
        QFETCH(QStringList, labels);
        const console::AxisScale scale = console::niceScale(peak);
        QCOMPARE(scale.step, step);
        QCOMPARE(scale.ticks, ticks);
        QVERIFY(scale.top() >= peak);
        QStringList shown;
        for (int i = 0; i <= scale.ticks; ++i)
            shown.append(scale.label(i));
        QCOMPARE(shown, labels);
        // The connections axis shares the grid lines with whole numbers.
        const console::AxisScale right = console::niceScaleWithTicks(3, scale.ticks, true);
        QCOMPARE(right.ticks, scale.ticks);
        QVERIFY(right.step >= 1.0);
        for (int i = 0; i <= right.ticks; ++i)
            QVERIFY2(!right.label(i).contains(u'.'), qPrintable(right.label(i)));
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
