// ActivityHistory: a fixed ring of samples, oldest first, that never grows.
#include "core/ActivityHistory.h"

#include <QtTest>

using medrelay::console::ActivityHistory;
using medrelay::console::ActivitySample;

namespace {

ActivitySample sample(int i)
{
    ActivitySample s;
    s.time = QDateTime(QDate(2024, 5, 2), QTime(12, 0, 0), Qt::UTC).addSecs(i);
    s.messagesInPerSecond = i;
    s.messagesOutPerSecond = 2.0 * i;
    s.connections = i % 7;
    s.rooms = i % 3;
    return s;
}

} // namespace

class TestActivityHistory final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fillsThenWraps()
    {
        ActivityHistory h(5);
        QVERIFY(h.isEmpty());
        QCOMPARE(h.capacity(), 5);
        for (int i = 0; i < 3; ++i)
            h.append(sample(i));
        QCOMPARE(h.size(), 3);
        QCOMPARE(h.at(0), sample(0));
        QCOMPARE(h.latest(), sample(2));
        for (int i = 3; i < 12; ++i)
            h.append(sample(i));
        QCOMPARE(h.size(), 5);
        for (int i = 0; i < 5; ++i)
            QCOMPARE(h.at(i), sample(7 + i));
        QCOMPARE(h.samples().size(), 5);
        QCOMPARE(h.samples().constFirst(), sample(7));
    }

    void peaks()
    {
        ActivityHistory h(4);
        for (int i = 0; i < 10; ++i)
            h.append(sample(i));
        // Samples 6..9 remain: messages out peaks at 18, connections (i % 7) at 6.
        QCOMPARE(h.peakMessagesPerSecond(), 18.0);
        QCOMPARE(h.peakConnections(), 6);
        QCOMPARE(h.peakConnections(sample(7).time), 2);
    }

    void capacityChangeKeepsNewest()
    {
        ActivityHistory h(10);
        for (int i = 0; i < 8; ++i)
            h.append(sample(i));
        h.setCapacity(3);
        QCOMPARE(h.size(), 3);
        QCOMPARE(h.at(0), sample(5));
        QCOMPARE(h.latest(), sample(7));
        h.setCapacity(6);
        QCOMPARE(h.size(), 3);
        h.append(sample(8));
        QCOMPARE(h.latest(), sample(8));
        QCOMPARE(h.at(0), sample(5));
        h.clear();
        QCOMPARE(h.size(), 0);
        h.append(sample(1));
        QCOMPARE(h.at(0), sample(1));
    }

    void oneSlotRing()
    {
        ActivityHistory h(0); // clamped to 1
        QCOMPARE(h.capacity(), 1);
        h.append(sample(1));
        h.append(sample(2));
        QCOMPARE(h.size(), 1);
        QCOMPARE(h.latest(), sample(2));
    }
};

QTEST_GUILESS_MAIN(TestActivityHistory)
#include "tst_activityhistory.moc"
