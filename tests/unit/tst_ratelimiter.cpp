// The per-connection token bucket.

#include "realtime/RateLimiter.h"

#include <QTest>

using medrelay::server::RateLimiter;

class TestRateLimiter final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void burstThenRefill();
    void firstMessageAtTimeZero();
    void disabled();
};

void TestRateLimiter::burstThenRefill()
{
    RateLimiter r(10, 5);
    for (int i = 0; i < 5; ++i)
        QVERIFY(r.allow(100));
    QVERIFY(!r.allow(100));
    QVERIFY(!r.allow(100));
    QCOMPARE(r.refusedInARow(), 2);
    QVERIFY(r.allow(200)); // 100 ms at 10/s: one token
    QCOMPARE(r.refusedInARow(), 0);
    QVERIFY(!r.allow(200));
    // Never more than the burst, however long the pause.
    int passed = 0;
    for (int i = 0; i < 20; ++i)
        passed += r.allow(100000) ? 1 : 0;
    QCOMPARE(passed, 5);
}

void TestRateLimiter::firstMessageAtTimeZero()
{
    RateLimiter r(5, 2);
    QVERIFY(r.allow(0));
    QVERIFY(r.allow(0));
    QVERIFY(!r.allow(0));
    QVERIFY(r.allow(1000)); // refills although the clock started at 0
}

void TestRateLimiter::disabled()
{
    RateLimiter r(0, 1);
    QVERIFY(!r.enabled());
    for (int i = 0; i < 1000; ++i)
        QVERIFY(r.allow(0));
}

QTEST_GUILESS_MAIN(TestRateLimiter)
#include "tst_ratelimiter.moc"
