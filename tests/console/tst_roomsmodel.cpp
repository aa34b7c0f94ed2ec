// RoomsModel: rows keyed by room id, updated in place (no resets) from
// snapshots or single changes, typed sort values, and views that keep their
// selection across refreshes; RoomFilterModel: what the filter box finds.
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"

#include <QItemSelectionModel>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QtTest>

using namespace Qt::StringLiterals;
using medrelay::adminapi::ParticipantInfo;
using medrelay::adminapi::RoomInfo;
using medrelay::console::RoomFilterModel;
using medrelay::console::RoomsModel;

namespace {

const QDateTime kNow = QDateTime(QDate(2024, 5, 2), QTime(12, 0, 0), Qt::UTC);

RoomInfo room(const QString &id, qint64 appointment, int people, int idleSeconds)
{
    RoomInfo r;
    r.id = id;
    r.appointmentId = appointment;
    r.connectionCount = people;
    r.createdAt = kNow.addSecs(-3600);
    r.lastActivity = kNow.addSecs(-idleSeconds);
    for (int i = 0; i < people; ++i) {
        ParticipantInfo p;
        p.connectionId = u"%1-c%2"_s.arg(id).arg(i);
        p.userId = QString::number(appointment * 10 + i + 1);
        p.userName = i == 0 ? u"Dr %1"_s.arg(id) : u"Patient %1"_s.arg(i);
        r.participants.append(p);
    }
    return r;
}

QStringList idsInRowOrder(const QAbstractItemModel &m)
{
    QStringList ids;
    for (int row = 0; row < m.rowCount(); ++row)
        ids.append(m.index(row, 0).data(RoomsModel::RoomIdRole).toString());
    return ids;
}

} // namespace

class TestRoomsModel final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void insertsNewRoomsAtTheEnd()
    {
        RoomsModel model;
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.update({room(u"a"_s, 1, 2, 5), room(u"b"_s, 2, 1, 10)}, kNow);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(inserted.count(), 1);
        model.update({room(u"a"_s, 1, 2, 5), room(u"b"_s, 2, 1, 10), room(u"c"_s, 3, 1, 0)}, kNow);
        QCOMPARE(idsInRowOrder(model), (QStringList{u"a"_s, u"b"_s, u"c"_s}));
        QCOMPARE(inserted.count(), 2);
        QCOMPARE(inserted.last().at(1).toInt(), 2);
        QCOMPARE(reset.count(), 0);
    }

    void updatesInPlaceKeyedById()
    {
        RoomsModel model;
        model.update({room(u"a"_s, 1, 2, 5), room(u"b"_s, 2, 1, 10)}, kNow);
        const QPersistentModelIndex b = model.index(1, 0);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

        // The server may list rooms in any order; rows stay where they are.
        model.update({room(u"b"_s, 2, 3, 0), room(u"a"_s, 1, 2, 5)}, kNow);
        QCOMPARE(inserted.count(), 0);
        QCOMPARE(removed.count(), 0);
        QCOMPARE(idsInRowOrder(model), (QStringList{u"a"_s, u"b"_s}));
        QVERIFY(b.isValid());
        QCOMPARE(b.row(), 1);
        QCOMPARE(model.index(1, RoomsModel::ParticipantsColumn).data().toInt(), 3);
        // One change for b's row, one for the idle column of every row.
        bool rowB = false;
        for (const auto &args : changed) {
            const auto tl = args.at(0).value<QModelIndex>();
            const auto br = args.at(1).value<QModelIndex>();
            if (tl.row() == 1 && br.row() == 1 && tl.column() == 0)
                rowB = true;
        }
        QVERIFY(rowB);
        QCOMPARE(model.room(u"b"_s)->participants.size(), 3);
    }

    void removesVanishedRooms()
    {
        RoomsModel model;
        model.update({room(u"a"_s, 1, 1, 1), room(u"b"_s, 2, 1, 1), room(u"c"_s, 3, 1, 1), room(u"d"_s, 4, 1, 1)},
                     kNow);
        const QPersistentModelIndex d = model.index(3, 0);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        model.update({room(u"a"_s, 1, 1, 1), room(u"d"_s, 4, 1, 1)}, kNow);
        QCOMPARE(removed.count(), 1); // b and c are one contiguous run
        QCOMPARE(idsInRowOrder(model), (QStringList{u"a"_s, u"d"_s}));
        QCOMPARE(d.row(), 1);
        QCOMPARE(model.rowOf(u"d"_s), 1);
        QCOMPARE(model.rowOf(u"b"_s), -1);
        QVERIFY(model.room(u"c"_s) == nullptr);

        model.update({}, kNow);
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(!d.isValid());
    }

    void mixedChangeInOneSnapshot()
    {
        RoomsModel model;
        model.update({room(u"a"_s, 1, 1, 1), room(u"b"_s, 2, 1, 1), room(u"c"_s, 3, 1, 1)}, kNow);
        model.update({room(u"c"_s, 3, 2, 0), room(u"x"_s, 9, 1, 0), room(u"a"_s, 1, 1, 1)}, kNow);
        QCOMPARE(idsInRowOrder(model), (QStringList{u"a"_s, u"c"_s, u"x"_s}));
        for (int row = 0; row < model.rowCount(); ++row)
            QCOMPARE(model.rowOf(model.index(row, 0).data(RoomsModel::RoomIdRole).toString()), row);
    }

    void duplicateIdsKeepTheFirst()
    {
        RoomsModel model;
        model.update({room(u"a"_s, 1, 1, 1), room(u"a"_s, 7, 5, 1)}, kNow);
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.room(u"a"_s)->appointmentId, 1);
    }

    void idleIsMeasuredOnTheServerClock()
    {
        RoomsModel model;
        model.update({room(u"a"_s, 1, 1, 125)}, kNow);
        QCOMPARE(model.index(0, RoomsModel::IdleColumn).data(RoomsModel::IdleSecondsRole).toLongLong(), 125);
        QCOMPARE(model.index(0, RoomsModel::IdleColumn).data().toString(), u"2 min 05 s"_s);
        // The same snapshot 10 s later on the server: idle grows, nothing else changes.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        RoomInfo same = room(u"a"_s, 1, 1, 125);
        model.update({same}, kNow.addSecs(10));
        QCOMPARE(model.index(0, RoomsModel::IdleColumn).data(RoomsModel::IdleSecondsRole).toLongLong(), 135);
        QVERIFY(!changed.isEmpty());
        // One signal for the columns that follow the clock (waiting, duration, idle), not the rest.
        const auto last = changed.last();
        QVERIFY(last.at(0).value<QModelIndex>().column() <= int(RoomsModel::WaitingColumn));
        QCOMPARE(last.at(1).value<QModelIndex>().column(), int(RoomsModel::IdleColumn));
    }

    void consultationStateColumns()
    {
        RoomsModel model;
        RoomInfo r = room(u"a"_s, 1, 2, 5);
        r.hostPresent = true;
        r.locked = true;
        r.waitingRoom = true;
        r.waitingCount = 2;
        ParticipantInfo first;
        first.connectionId = u"w1"_s;
        first.joinedAt = kNow.addSecs(-190);
        first.state = u"waiting"_s;
        ParticipantInfo second = first;
        second.connectionId = u"w2"_s;
        second.joinedAt = kNow.addSecs(-20);
        r.waiting = {second, first};
        model.update({r, room(u"b"_s, 2, 1, 5)}, kNow);
        const auto cell = [&](const QString &id, int column, int role = Qt::DisplayRole) {
            return model.index(model.rowOf(id), column).data(role);
        };
        QCOMPARE(cell(u"a"_s, RoomsModel::WaitingColumn).toString(), u"2, 3 min 10 s"_s);
        QCOMPARE(cell(u"a"_s, RoomsModel::WaitingColumn, RoomsModel::LongestWaitSecondsRole).toLongLong(), 190);
        QCOMPARE(cell(u"b"_s, RoomsModel::WaitingColumn).toString(), QString());
        QCOMPARE(cell(u"b"_s, RoomsModel::WaitingColumn, RoomsModel::LongestWaitSecondsRole).toLongLong(), -1);
        QCOMPARE(cell(u"a"_s, RoomsModel::HostColumn).toString(), u"present"_s);
        QCOMPARE(cell(u"b"_s, RoomsModel::HostColumn).toString(), u"absent"_s);
        QCOMPARE(cell(u"a"_s, RoomsModel::LockedColumn).toString(), u"locked"_s);
        QCOMPARE(cell(u"b"_s, RoomsModel::LockedColumn).toString(), QString());
        QCOMPARE(cell(u"a"_s, RoomsModel::StartedColumn, RoomsModel::SortRole).toDateTime(), kNow.addSecs(-3600));
        QCOMPARE(cell(u"a"_s, RoomsModel::DurationColumn).toString(), u"1 h 00 min"_s);
        // The wait and the duration follow the server's clock.
        model.setNow(kNow.addSecs(60));
        QCOMPARE(cell(u"a"_s, RoomsModel::WaitingColumn).toString(), u"2, 4 min 10 s"_s);
        QCOMPARE(cell(u"a"_s, RoomsModel::DurationColumn, RoomsModel::SortRole).toLongLong(), 3660);
        // Past the alert's limit the cell says so (the window draws it in amber).
        QVERIFY(!cell(u"a"_s, RoomsModel::WaitingColumn, RoomsModel::WaitingTooLongRole).toBool());
        model.setWaitingLimit(240);
        QVERIFY(cell(u"a"_s, RoomsModel::WaitingColumn, RoomsModel::WaitingTooLongRole).toBool());
        QVERIFY(!cell(u"b"_s, RoomsModel::WaitingColumn, RoomsModel::WaitingTooLongRole).toBool());
        QVERIFY(!cell(u"a"_s, RoomsModel::RoomIdColumn, RoomsModel::WaitingTooLongRole).toBool());
    }

    void batchesChangeRowsInPlaceWithOneSignal()
    {
        RoomsModel model;
        QList<RoomInfo> rooms;
        for (int i = 0; i < 50; ++i)
            rooms.append(room(u"r%1"_s.arg(i, 2, 10, QChar(u'0')), i, 1, 100));
        model.update(rooms, kNow);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        // The rooms that moved this second: activity now.
        QList<RoomInfo> moved;
        for (const int i : {3, 17, 40}) {
            RoomInfo r = rooms.at(i);
            r.lastActivity = kNow;
            moved.append(r);
        }
        moved.append(room(u"new"_s, 99, 1, 0));
        model.upsertMany(moved, kNow);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(changed.at(0).at(0).value<QModelIndex>().row(), 3);
        QCOMPARE(changed.at(0).at(1).value<QModelIndex>().row(), 40);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(model.rowCount(), 51);
        QCOMPARE(model.idleSeconds(*model.room(u"r17"_s)), 0);
        QCOMPARE(model.idleSeconds(*model.room(u"r18"_s)), 100);
        // Removing one keeps every other row findable by its id.
        QVERIFY(model.remove(u"r10"_s));
        for (int i = 0; i < 50; ++i) {
            const QString id = u"r%1"_s.arg(i, 2, 10, QChar(u'0'));
            QCOMPARE(model.rowOf(id) >= 0, i != 10);
            if (i != 10)
                QCOMPARE(model.index(model.rowOf(id), 0).data(RoomsModel::RoomIdRole).toString(), id);
        }
    }

    void sortRolesAreTyped_data()
    {
        QTest::addColumn<int>("column");
        QTest::addColumn<QStringList>("ascending");
        // Display strings would sort "10 s" < "5 s" and "300" < "40"; typed values must not.
        QTest::addRow("idle") << int(RoomsModel::IdleColumn) << QStringList{u"b"_s, u"c"_s, u"a"_s};
        QTest::addRow("appointment") << int(RoomsModel::AppointmentColumn) << QStringList{u"c"_s, u"b"_s, u"a"_s};
        QTest::addRow("participants") << int(RoomsModel::ParticipantsColumn) << QStringList{u"a"_s, u"c"_s, u"b"_s};
        QTest::addRow("last activity") << int(RoomsModel::LastActivityColumn) << QStringList{u"a"_s, u"c"_s, u"b"_s};
        QTest::addRow("room id") << int(RoomsModel::RoomIdColumn) << QStringList{u"a"_s, u"b"_s, u"c"_s};
    }

    void sortRolesAreTyped()
    {
        QFETCH(int, column);
        QFETCH(QStringList, ascending);
        RoomsModel model;
        model.update({room(u"a"_s, 300, 2, 300), room(u"b"_s, 40, 12, 5), room(u"c"_s, 9, 3, 40)}, kNow);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(RoomsModel::SortRole);
        proxy.sort(column, Qt::AscendingOrder);
        QCOMPARE(idsInRowOrder(proxy), ascending);
    }

    void selectionAndSortSurviveRefreshes()
    {
        RoomsModel model;
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(RoomsModel::SortRole);
        proxy.setDynamicSortFilter(true);
        proxy.sort(RoomsModel::IdleColumn, Qt::DescendingOrder);
        QItemSelectionModel selection(&proxy);
        model.update({room(u"a"_s, 1, 1, 10), room(u"b"_s, 2, 1, 20), room(u"c"_s, 3, 1, 30)}, kNow);
        QCOMPARE(idsInRowOrder(proxy), (QStringList{u"c"_s, u"b"_s, u"a"_s}));
        const QModelIndex b = proxy.index(1, 0);
        selection.setCurrentIndex(b, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        QSignalSpy currentChanged(&selection, &QItemSelectionModel::currentRowChanged);

        // Ten refreshes: b's activity moves it to the top, a room comes and goes.
        for (int i = 0; i < 10; ++i) {
            QList<RoomInfo> rooms{room(u"a"_s, 1, 1, 10 + i), room(u"b"_s, 2, 1, i == 5 ? 0 : 20 + i),
                                  room(u"c"_s, 3, 1, 30 + i)};
            if (i % 2)
                rooms.append(room(u"new"_s, 4, 1, 1000));
            model.update(rooms, kNow.addSecs(i));
        }
        QCOMPARE(selection.currentIndex().data(RoomsModel::RoomIdRole).toString(), u"b"_s);
        QCOMPARE(selection.selectedRows().size(), 1);
        QCOMPARE(selection.selectedRows().constFirst().data(RoomsModel::RoomIdRole).toString(), u"b"_s);
        QCOMPARE(currentChanged.count(), 0); // same room all along, only its row moved
        // Still sorted by idle, descending (the last refresh had the long-idle "new" room).
        QCOMPARE(idsInRowOrder(proxy), (QStringList{u"new"_s, u"c"_s, u"b"_s, u"a"_s}));
    }

    void filterFindsRoomsAndPeople_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("rooms");
        QTest::addRow("room id, any case") << u"CARDIO"_s << QStringList{u"cardio-1"_s};
        QTest::addRow("appointment") << u"2002"_s << QStringList{u"derma-2"_s};
        QTest::addRow("participant name") << u"dr derma"_s << QStringList{u"derma-2"_s};
        QTest::addRow("participant user id") << u"10012"_s << QStringList{u"cardio-1"_s};
        QTest::addRow("name in both") << u"patient 1"_s << (QStringList{u"cardio-1"_s, u"derma-2"_s});
        QTest::addRow("surrounding spaces") << u"  derma "_s << QStringList{u"derma-2"_s};
        QTest::addRow("nothing") << u"zzz"_s << QStringList{};
        QTest::addRow("empty shows all") << QString() << (QStringList{u"cardio-1"_s, u"derma-2"_s});
    }

    void filterFindsRoomsAndPeople()
    {
        QFETCH(QString, text);
        QFETCH(QStringList, rooms);
        RoomsModel model;
        model.update({room(u"cardio-1"_s, 1001, 2, 10), room(u"derma-2"_s, 2002, 2, 20)}, kNow);
        RoomFilterModel filter(&model);
        filter.sort(RoomsModel::RoomIdColumn);
        filter.setFilterText(text);
        QCOMPARE(idsInRowOrder(filter), rooms);
        QCOMPARE(filter.accepts(u"derma-2"_s), rooms.contains(u"derma-2"_s));
        QCOMPARE(filter.isFiltering(), !text.trimmed().isEmpty());
    }

    void filterFollowsChangedParticipants()
    {
        // A room found by a person's name goes when that person leaves.
        RoomsModel model;
        model.update({room(u"cardio-1"_s, 1001, 2, 10)}, kNow);
        RoomFilterModel filter(&model);
        filter.setFilterText(u"patient 1"_s);
        QCOMPARE(filter.rowCount(), 1);
        model.update({room(u"cardio-1"_s, 1001, 1, 10)}, kNow);
        QCOMPARE(filter.rowCount(), 0);
    }

    void appointmentZeroIsShown()
    {
        RoomsModel model;
        model.update({room(u"zero"_s, 0, 1, 10)}, kNow);
        QCOMPARE(model.index(0, RoomsModel::AppointmentColumn).data().toString(), u"0"_s);
    }

    void singleChangesWithoutSnapshots()
    {
        RoomsModel model;
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.upsert(room(u"a"_s, 1, 1, 5), kNow);
        model.upsert(room(u"b"_s, 2, 1, 5), kNow);
        QCOMPARE(idsInRowOrder(model), (QStringList{u"a"_s, u"b"_s}));
        QCOMPARE(inserted.count(), 2);
        model.upsert(room(u"a"_s, 1, 2, 0), kNow.addSecs(3));
        QCOMPARE(model.room(u"a"_s)->connectionCount, 2);
        QVERIFY(changed.count() >= 1);
        // The clock moved: every idle time was re-read.
        QCOMPARE(model.idleSeconds(*model.room(u"b"_s)), 8);
        QVERIFY(model.remove(u"a"_s));
        QVERIFY(!model.remove(u"a"_s));
        QCOMPARE(idsInRowOrder(model), QStringList{u"b"_s});
        QCOMPARE(model.rowOf(u"b"_s), 0);
        QCOMPARE(removed.count(), 1);
        QCOMPARE(reset.count(), 0);
    }

    void headersAndAlignment()
    {
        RoomsModel model;
        QCOMPARE(model.columnCount(), int(RoomsModel::ColumnCount));
        for (int c = 0; c < model.columnCount(); ++c)
            QVERIFY(!model.headerData(c, Qt::Horizontal).toString().isEmpty());
        model.update({room(u"a"_s, 1, 1, 10)}, kNow);
        QVERIFY(model.index(0, 0).data(Qt::ToolTipRole).toString().contains(u"a"_s));
        QVERIFY(!model.index(0, RoomsModel::LastActivityColumn).data().toString().isEmpty());
        // Numbers are right-aligned, text is not.
        const auto horizontal = [&model](int column) {
            return model.index(0, column).data(Qt::TextAlignmentRole).value<Qt::Alignment>() & Qt::AlignHorizontal_Mask;
        };
        for (int c : {int(RoomsModel::AppointmentColumn), int(RoomsModel::ParticipantsColumn), int(RoomsModel::IdleColumn)})
            QCOMPARE(horizontal(c), Qt::Alignment(Qt::AlignRight));
        QVERIFY(!(horizontal(RoomsModel::RoomIdColumn) & Qt::AlignRight));
        QVERIFY(!model.index(0, 0).parent().isValid());
        QCOMPARE(model.rowCount(model.index(0, 0)), 0);
    }
};

QTEST_GUILESS_MAIN(TestRoomsModel)
#include "tst_roomsmodel.moc"
