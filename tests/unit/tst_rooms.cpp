// Room membership bookkeeping, independent of sockets.

#include "rooms/RoomRegistry.h"

#include <QSignalSpy>
#include <QTest>

using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

class FakePeer final : public Peer
{
public:
    FakePeer(QString id, QString user) : m_id(std::move(id)) { m_identity.userId = std::move(user); }
    const QString &connectionId() const override { return m_id; }
    const Identity &identity() const override { return m_identity; }
    QString remoteAddress() const override { return u"127.0.0.1"_s; }
    void send(const OutboundMessage &) override { ++sent; }
    int sent = 0;

private:
    QString m_id;
    Identity m_identity;
};

} // namespace

class TestRooms final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void joinLeaveLifecycle();
    void recipientsAndTargets();
    void idleSelection();
};

void TestRooms::joinLeaveLifecycle()
{
    RoomRegistry reg(3, 2);
    QSignalSpy created(&reg, &RoomRegistry::roomCreated);
    QSignalSpy removed(&reg, &RoomRegistry::roomRemoved);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QCOMPARE(reg.join(&a, u"r"_s, 5, now), RoomRegistry::JoinResult::Joined);
    QCOMPARE(reg.join(&a, u"r"_s, 5, now), RoomRegistry::JoinResult::AlreadyMember);
    QCOMPARE(reg.join(&b, u"r"_s, 6, now), RoomRegistry::JoinResult::AppointmentMismatch);
    QCOMPARE(reg.join(&b, u"r"_s, 5, now), RoomRegistry::JoinResult::Joined);
    QCOMPARE(created.size(), 1);
    QCOMPARE(reg.roomsOf(u"ca"_s).size(), 1);
    QVERIFY(reg.leave(u"ca"_s, u"r"_s));
    QVERIFY(!reg.leave(u"ca"_s, u"r"_s));
    QCOMPARE(removed.size(), 0);
    QVERIFY(reg.leave(u"cb"_s, u"r"_s));
    QCOMPARE(removed.size(), 1);
    QCOMPARE(reg.count(), 0);
    QVERIFY(reg.roomsOf(u"cb"_s).isEmpty());
}

void TestRooms::recipientsAndTargets()
{
    RoomRegistry reg(10, 10);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s), b2(u"cb2"_s, u"2"_s);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (FakePeer *p : {&a, &b, &b2})
        reg.join(p, u"r"_s, 1, now);
    Room *room = reg.find(u"r"_s);
    QCOMPARE(room->recipients(&a, std::nullopt).size(), 2);
    QCOMPARE(room->recipients(&a, u"2"_s).size(), 2);   // one user on two devices
    QCOMPARE(room->recipients(&a, u"cb2"_s).size(), 1); // one connection
    QCOMPARE(room->recipients(&a, u"1"_s).size(), 0);   // never the sender
    const QList<Peer *> members = reg.remove(u"r"_s, u"test"_s);
    QCOMPARE(members.size(), 3);
    QVERIFY(reg.roomsOf(u"ca"_s).isEmpty());
}

void TestRooms::idleSelection()
{
    RoomRegistry reg(10, 10);
    FakePeer a(u"ca"_s, u"1"_s), b(u"cb"_s, u"2"_s);
    const QDateTime t0 = QDateTime::currentDateTimeUtc();
    reg.join(&a, u"old"_s, 1, t0.addSecs(-100));
    reg.join(&b, u"new"_s, 2, t0);
    QCOMPARE(reg.idleSince(t0.addSecs(-50)), QStringList{u"old"_s});
    reg.find(u"old"_s)->touch(u"ca"_s, t0);
    QVERIFY(reg.idleSince(t0.addSecs(-50)).isEmpty());
}

QTEST_GUILESS_MAIN(TestRooms)
#include "tst_rooms.moc"
