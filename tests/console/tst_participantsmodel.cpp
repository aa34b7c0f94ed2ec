// ParticipantsModel: one room's participants keyed by connection id; the same
// room refreshes in place, another room resets.
#include "core/ParticipantsModel.h"

#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QtTest>

using namespace Qt::StringLiterals;
using medrelay::adminapi::ParticipantInfo;
using medrelay::console::ParticipantsModel;

namespace {

const QDateTime kNow = QDateTime(QDate(2024, 5, 2), QTime(12, 0, 0), Qt::UTC);

ParticipantInfo person(const QString &connection, const QString &user, const QString &role, int joinedAgo)
{
    ParticipantInfo p;
    p.connectionId = connection;
    p.userId = user;
    p.userName = u"Name "_s + user;
    p.role = role;
    p.address = u"127.0.0.1"_s;
    p.joinedAt = kNow.addSecs(-joinedAgo);
    p.lastActivity = kNow;
    return p;
}

} // namespace

class TestParticipantsModel final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameRoomUpdatesInPlace()
    {
        ParticipantsModel model;
        model.setRoom(u"r1"_s, {person(u"c1"_s, u"1"_s, u"doctor"_s, 60), person(u"c2"_s, u"2"_s, u"patient"_s, 30)});
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.roomId(), u"r1"_s);
        const QPersistentModelIndex c2 = model.index(1, 0);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

        auto updated = person(u"c2"_s, u"2"_s, u"patient"_s, 30);
        updated.lastActivity = kNow.addSecs(5);
        model.setRoom(u"r1"_s, {person(u"c3"_s, u"3"_s, u"nurse"_s, 1), updated});
        QCOMPARE(reset.count(), 0);
        QCOMPARE(removed.count(), 1);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(changed.count(), 1);
        QVERIFY(c2.isValid());
        QCOMPARE(c2.row(), 0);
        QCOMPARE(model.index(0, ParticipantsModel::ConnectionColumn).data().toString(), u"c2"_s);
        QCOMPARE(model.index(1, ParticipantsModel::RoleColumn).data().toString(), u"nurse"_s);
        QVERIFY(model.participant(u"c1"_s) == nullptr);
        QCOMPARE(model.participant(u"c3"_s)->userId, u"3"_s);
    }

    void anotherRoomResets()
    {
        ParticipantsModel model;
        model.setRoom(u"r1"_s, {person(u"c1"_s, u"1"_s, u"doctor"_s, 60)});
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.setRoom(u"r2"_s, {person(u"c9"_s, u"9"_s, u"patient"_s, 5), person(u"c8"_s, u"8"_s, u"doctor"_s, 5)});
        QCOMPARE(reset.count(), 1);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.roomId(), u"r2"_s);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.roomId(), QString());
    }

    void displayAndRoles()
    {
        ParticipantsModel model;
        auto anonymous = person(u"c1"_s, QString(), QString(), 10);
        anonymous.userName.clear();
        model.setRoom(u"r1"_s, {anonymous});
        QCOMPARE(model.index(0, ParticipantsModel::UserIdColumn).data().toString(), u"-"_s);
        QCOMPARE(model.index(0, ParticipantsModel::RoleColumn).data().toString(), u"-"_s);
        QCOMPARE(model.index(0, ParticipantsModel::AddressColumn).data().toString(), u"127.0.0.1"_s);
        QCOMPARE(model.index(0, 3).data(ParticipantsModel::ConnectionIdRole).toString(), u"c1"_s);
        for (int c = 0; c < model.columnCount(); ++c)
            QVERIFY(!model.headerData(c, Qt::Horizontal).toString().isEmpty());
    }

    void instanceShownInACluster()
    {
        ParticipantsModel model;
        model.setRoom(u"r1"_s, {person(u"c1"_s, u"1"_s, u"doctor"_s, 10)});
        QVERIFY(!model.hasInstances());
        QCOMPARE(model.index(0, ParticipantsModel::InstanceColumn).data().toString(), u"-"_s);
        QVERIFY(!model.index(0, 0).data(Qt::ToolTipRole).toString().contains(u"instance"_s));
        auto remote = person(u"c2"_s, u"2"_s, u"patient"_s, 5);
        remote.instance = u"i-east"_s;
        QSignalSpy changed(&model, &QAbstractItemModel::rowsInserted);
        model.setRoom(u"r1"_s, {person(u"c1"_s, u"1"_s, u"doctor"_s, 10), remote});
        QCOMPARE(changed.count(), 1);
        QVERIFY(model.hasInstances());
        const int row = model.participant(u"c2"_s) == model.itemAt(0) ? 0 : 1;
        QCOMPARE(model.index(row, ParticipantsModel::InstanceColumn).data().toString(), u"i-east"_s);
        QVERIFY(model.index(row, 0).data(Qt::ToolTipRole).toString().contains(u"i-east"_s));
    }

    void numericUserIdsSortAsNumbers()
    {
        ParticipantsModel model;
        model.setRoom(u"r1"_s, {person(u"a"_s, u"10"_s, u"x"_s, 3), person(u"b"_s, u"9"_s, u"x"_s, 2),
                                person(u"c"_s, u"100"_s, u"x"_s, 1)});
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(ParticipantsModel::SortRole);
        proxy.sort(ParticipantsModel::UserIdColumn);
        QStringList order;
        for (int row = 0; row < proxy.rowCount(); ++row)
            order.append(proxy.index(row, ParticipantsModel::UserIdColumn).data().toString());
        QCOMPARE(order, (QStringList{u"9"_s, u"10"_s, u"100"_s}));
        proxy.sort(ParticipantsModel::JoinedColumn);
        QCOMPARE(proxy.index(0, ParticipantsModel::ConnectionColumn).data().toString(), u"a"_s);
    }
};

QTEST_GUILESS_MAIN(TestParticipantsModel)
#include "tst_participantsmodel.moc"
