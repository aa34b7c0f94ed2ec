// MainWindow fed with snapshots (no server): tables follow the snapshots in
// place, the selected room and its participants survive refreshes and sorting,
// the chart and the screenshot render at 1280x800 in light and dark palettes.
#include "core/ActivityHistory.h"
#include "core/AdminClient.h"
#include "core/EventLogModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomsModel.h"
#include "widgets/ActivityChart.h"
#include "widgets/ConsoleApp.h"
#include "widgets/MainWindow.h"

#include <QApplication>
#include <QHeaderView>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QtTest>

using namespace Qt::StringLiterals;
using namespace medrelay;
using console::MainWindow;
using console::RoomsModel;

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
        p.role = i == 0 ? u"doctor"_s : u"patient"_s;
        p.joinedAt = r.createdAt;
        p.lastActivity = r.lastActivity;
        r.participants.append(p);
    }
    return r;
}

adminapi::Stats stats(const QList<adminapi::RoomInfo> &rooms, const QDateTime &now, double rate)
{
    adminapi::Stats s;
    s.version = u"0.1.0"_s;
    s.status = u"healthy"_s;
    s.mode = u"development"_s;
    s.timestamp = now;
    s.uptimeSeconds = 3725;
    s.rooms = rooms;
    for (const auto &r : rooms)
        s.connections += r.connectionCount;
    s.perSecond.messagesIn = rate;
    s.perSecond.messagesOut = rate * 1.5;
    return s;
}

} // namespace

class TestMainWindow final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void selectionSurvivesRefreshes()
    {
        console::AdminClient client;
        MainWindow window(&client, nullptr);
        window.show();
        const QDateTime t0 = QDateTime::currentDateTimeUtc();
        Q_EMIT client.statsUpdated(stats({room(u"a"_s, 1, 5, t0), room(u"b"_s, 3, 50, t0), room(u"c"_s, 2, 500, t0)},
                                         t0, 4));
        QCOMPARE(window.roomsProxy()->rowCount(), 3);
        // Sort by idle, longest first, as an administrator hunting idle rooms would.
        window.roomsView()->sortByColumn(RoomsModel::IdleColumn, Qt::DescendingOrder);
        QVERIFY(window.selectRoom(u"b"_s));
        QCOMPARE(window.currentRoomId(), u"b"_s);
        QCOMPARE(window.participantsModel()->rowCount(), 3);
        window.participantsView()->selectRow(1);
        const QString chosenConnection =
            window.participantsView()->currentIndex().data(console::ParticipantsModel::ConnectionIdRole).toString();
        QVERIFY(!chosenConnection.isEmpty());

        QSignalSpy resets(window.roomsModel(), &QAbstractItemModel::modelReset);
        for (int i = 1; i <= 5; ++i) {
            const QDateTime t = t0.addSecs(i);
            QList<adminapi::RoomInfo> rooms{room(u"c"_s, 2, 500, t0), room(u"a"_s, 1, 5, t0),
                                            room(u"b"_s, 3 + (i % 2), 50, t0)};
            if (i == 3)
                rooms.append(room(u"d"_s, 1, 0, t));
            Q_EMIT client.statsUpdated(stats(rooms, t, 4 + i));
        }
        QCOMPARE(resets.count(), 0);
        QCOMPARE(window.currentRoomId(), u"b"_s);
        QCOMPARE(window.roomsView()->currentIndex().data(RoomsModel::RoomIdRole).toString(), u"b"_s);
        QCOMPARE(window.roomsView()->horizontalHeader()->sortIndicatorSection(), int(RoomsModel::IdleColumn));
        QCOMPARE(window.roomsProxy()->index(0, 0).data(RoomsModel::RoomIdRole).toString(), u"c"_s);
        QCOMPARE(window.participantsModel()->rowCount(), 4);
        QCOMPARE(window.participantsView()->currentIndex().data(console::ParticipantsModel::ConnectionIdRole).toString(),
                 chosenConnection);
        QCOMPARE(window.participantsView()->selectionModel()->selectedRows().size(), 1);
        QCOMPARE(window.history().size(), 6);

        // The selected room closes: its participants go with it.
        Q_EMIT client.statsUpdated(stats({room(u"a"_s, 1, 5, t0)}, t0.addSecs(7), 1));
        QCOMPARE(window.currentRoomId(), QString());
        QCOMPARE(window.participantsModel()->rowCount(), 0);
        QVERIFY(window.roomsView()->selectionModel()->selectedRows().isEmpty());

        // Filtering the selected room out of view unselects it too.
        QVERIFY(window.selectRoom(u"a"_s));
        QCOMPARE(window.participantsModel()->rowCount(), 1);
        window.roomsProxy()->setFilterFixedString(u"zzz"_s);
        QCOMPARE(window.currentRoomId(), QString());
        QCOMPARE(window.participantsModel()->rowCount(), 0);
    }

    void eventsReachTheLog()
    {
        console::AdminClient client;
        MainWindow window(&client, nullptr);
        const int before = window.eventLog()->rowCount();
        adminapi::Event e;
        e.seq = 1;
        e.kind = u"join"_s;
        e.roomId = u"r1"_s;
        e.timestamp = QDateTime::currentDateTimeUtc();
        Q_EMIT client.eventsReceived({e, e});
        QCOMPARE(window.eventLog()->rowCount(), before + 2);
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
        console::AdminClient client;
        MainWindow window(&client, nullptr);
        window.resize(1280, 800);
        window.show();
        QDateTime t = QDateTime::currentDateTimeUtc().addSecs(-120);
        for (int i = 0; i < 120; ++i) {
            t = t.addSecs(1);
            if (i > 40 && i < 50)
                continue; // a gap, as when the server was unreachable
            Q_EMIT client.statsUpdated(stats({room(u"r1"_s, 2, i % 30, t), room(u"r2"_s, 1, 200, t)}, t,
                                             10 + 5 * std::sin(i / 10.0)));
        }
        const QPixmap shot = window.grab();
        QCOMPARE(shot.size() / shot.devicePixelRatio(), QSize(1280, 800));
        const QImage image = shot.toImage();
        // The chart drew its series: some pixels carry the messages-in colour.
        auto *chart = window.findChild<console::ActivityChart *>();
        QVERIFY(chart);
        const QImage chartImage = chart->grab().toImage();
        int seriesPixels = 0;
        for (int y = 0; y < chartImage.height(); ++y)
            for (int x = 0; x < chartImage.width(); ++x)
                if (chartImage.pixelColor(x, y) == console::ActivityChart::messagesInColor())
                    ++seriesPixels;
        QVERIFY2(seriesPixels > 20, qPrintable(QString::number(seriesPixels)));
        QVERIFY(!image.isNull());
    }

    void niceScale()
    {
        QCOMPARE(console::niceCeiling(0, 5), 5.0);
        QCOMPARE(console::niceCeiling(7), 10.0);
        QCOMPARE(console::niceCeiling(11), 20.0);
        QCOMPARE(console::niceCeiling(42), 50.0);
        QCOMPARE(console::niceCeiling(1000), 1000.0);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
