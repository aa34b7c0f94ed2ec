// Admin API types survive a JSON round trip, and malformed input is refused.

#include "adminapi/AdminTypes.h"

#include <QTest>

using namespace medrelay::adminapi;
using namespace Qt::StringLiterals;

class TestAdminTypes final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void statsRoundTrip();
    void healthRoundTrip();
    void requestsValidate();
};

void TestAdminTypes::statsRoundTrip()
{
    Stats s;
    s.version = u"1.2.3"_s;
    s.status = u"healthy"_s;
    s.mode = u"production"_s;
    s.timestamp = QDateTime::fromMSecsSinceEpoch(1700000000123, Qt::UTC);
    s.uptimeSeconds = 12.5;
    s.connections = 3;
    RoomInfo r;
    r.id = u"room"_s;
    r.appointmentId = 9;
    r.connectionCount = 2;
    r.createdAt = s.timestamp;
    r.lastActivity = s.timestamp;
    r.waitingCount = 1;
    r.waitingRoom = true;
    r.hostPresent = true;
    r.lastSeq = 42;
    r.participants.append({u"c1"_s, u"7"_s, u"N"_s, u"patient"_s, u"127.0.0.1"_s, s.timestamp, s.timestamp, false,
                           u"active"_s});
    r.waiting.append({u"c2"_s, u"8"_s, u"W"_s, u"patient"_s, u"127.0.0.1"_s, s.timestamp, s.timestamp, false,
                      u"waiting"_s});
    r.messagesByType = {{u"telemedicine_chat_message"_s, 3}};
    s.rooms = {r};
    s.messagesByType = {{u"telemedicine_offer"_s, 4}};
    s.errorsByReason = {{u"invalid_json"_s, 1}};
    s.rejectionsByReason = {{u"rate_limited"_s, 2}};
    s.perSecond = {1.5, 3, 100, 200};
    s.totals = {10, 20, 1000, 2000, 5};
    s.residentMemoryBytes = 12345678;
    const auto back = Stats::fromJson(s.toJson());
    QVERIFY(back);
    QCOMPARE(back->version, s.version);
    QCOMPARE(back->rooms.size(), 1);
    QCOMPARE(back->rooms.at(0), r);
    QCOMPARE(back->messagesByType, s.messagesByType);
    QCOMPARE(back->totals.connectionsAccepted, 5);
    QCOMPARE(back->perSecond.messagesOut, 3.0);
    QCOMPARE(back->residentMemoryBytes, s.residentMemoryBytes);
    QVERIFY(!Stats::fromJson(QJsonObject{{u"version"_s, 1}}));
    // Out-of-range numbers read as 0, not as undefined behaviour.
    const auto e = Event::fromJson({{u"seq"_s, 1e44}, {u"kind"_s, u""_s}});
    QVERIFY(e);
    QCOMPARE(e->seq, 0);
}

void TestAdminTypes::healthRoundTrip()
{
    Health h;
    h.status = u"draining"_s;
    h.timestamp = QDateTime::currentDateTimeUtc();
    h.uptimeSeconds = 1;
    h.roomDetails = QList<RoomInfo>{};
    auto back = Health::fromJson(h.toJson());
    QVERIFY(back && back->roomDetails && back->roomDetails->isEmpty());
    h.roomDetails.reset();
    back = Health::fromJson(h.toJson());
    QVERIFY(back && !back->roomDetails);
    QVERIFY(!h.toJson().contains("roomDetails"_L1));
    QVERIFY(!back->audit && !h.toJson().contains("audit"_L1));
    h.status = u"degraded"_s;
    h.audit = AuditHealth{12, 3, 1, 4000, true};
    back = Health::fromJson(h.toJson());
    QVERIFY(back && back->audit);
    QCOMPARE(back->status, u"degraded"_s);
    QCOMPARE(*back->audit, *h.audit);
}

void TestAdminTypes::requestsValidate()
{
    QVERIFY(CloseIdleRequest::fromJson({{u"idleSeconds"_s, 60}}));
    QVERIFY(!CloseIdleRequest::fromJson({{u"idleSeconds"_s, -1}}));
    QVERIFY(!CloseIdleRequest::fromJson({{u"idleSeconds"_s, u"60"_s}}));
    QVERIFY(!CloseIdleRequest::fromJson({}));
    QVERIFY(CloseRoomRequest::fromJson({}));
    QVERIFY(!CloseRoomRequest::fromJson({{u"reason"_s, QString(300, u'r')}}));
    const auto a = ActionResult::fromJson(ActionResult{true, u"close_room"_s, {u"r"_s}, {}, u"ok"_s}.toJson());
    QVERIFY(a && a->ok && a->rooms == QStringList{u"r"_s});
}

QTEST_GUILESS_MAIN(TestAdminTypes)
#include "tst_admintypes.moc"
