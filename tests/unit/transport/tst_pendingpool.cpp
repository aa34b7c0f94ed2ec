// PendingPool's admission rules, entry by entry: the per-address share, who
// makes room when the pool is full, IPv6 /64 grouping, trusted proxies.

#include "net/ClientAddress.h"
#include "net/PendingPool.h"

#include <QTest>

#include <memory>
#include <vector>

using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

class Probe final : public PendingPool::Entry
{
public:
    explicit Probe(QString from)
        : address(std::move(from))
    {
    }
    ~Probe() override = default;
    Q_DISABLE_COPY_MOVE(Probe)

    QString address;
    bool wasEvicted = false;

protected:
    void evicted() override { wasEvicted = true; }
};

struct Harness
{
    Harness(int capacity, int perAddress, const QStringList &proxies = {})
        : trusted(proxies)
        , pool(capacity, perAddress, trusted)
    {
    }
    Probe *add(const QString &address, bool *admitted = nullptr)
    {
        probes.push_back(std::make_unique<Probe>(address));
        const bool ok = pool.admit(*probes.back(), QHostAddress(address));
        if (admitted != nullptr)
            *admitted = ok;
        return probes.back().get();
    }
    [[nodiscard]] int evictedFrom(const QString &address) const
    {
        int n = 0;
        for (const auto &p : probes)
            n += (p->address == address && p->wasEvicted) ? 1 : 0;
        return n;
    }

    TrustedProxies trusted;
    PendingPool pool;
    std::vector<std::unique_ptr<Probe>> probes;
};

} // namespace

class TestPendingPool final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void addressOverItsShareLosesItsOwnOldest();
    void fullPoolMakesRoomFromTheHeaviest();
    void fullPoolOfEqualsRefusesOneMore();
    void ipv6CountsPerSlash64();
    void trustedProxiesAreNeitherCappedNorEvicted();
    void releasedAndDestroyedEntriesLeave();
};

void TestPendingPool::addressOverItsShareLosesItsOwnOldest()
{
    Harness h(100, 3);
    Probe *first = h.add(u"127.0.0.2"_s);
    Probe *second = h.add(u"127.0.0.2"_s);
    h.add(u"127.0.0.2"_s);
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"127.0.0.2"_s)), 3);
    bool admitted = false;
    Probe *fourth = h.add(u"127.0.0.2"_s, &admitted);
    QVERIFY(admitted);
    QVERIFY(first->wasEvicted);
    QVERIFY(!first->isPending());
    QVERIFY(!second->wasEvicted);
    QVERIFY(fourth->isPending());
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"127.0.0.2"_s)), 3);
    QCOMPARE(h.pool.size(), 3);
    QCOMPARE(h.pool.evictions(), 1);
    // Another address is not affected.
    h.add(u"127.0.0.1"_s, &admitted);
    QVERIFY(admitted);
    QCOMPARE(h.evictedFrom(u"127.0.0.2"_s), 1);
}

void TestPendingPool::fullPoolMakesRoomFromTheHeaviest()
{
    Harness h(6, 0);
    for (int i = 0; i < 4; ++i)
        h.add(u"10.0.0.1"_s);
    Probe *lightFirst = h.add(u"10.0.0.2"_s);
    h.add(u"10.0.0.2"_s);
    QCOMPARE(h.pool.size(), 6);
    bool admitted = false;
    Probe *newcomer = h.add(u"10.0.0.3"_s, &admitted);
    QVERIFY(admitted);
    QVERIFY(newcomer->isPending());
    QCOMPARE(h.evictedFrom(u"10.0.0.1"_s), 1);
    QVERIFY(h.probes.front()->wasEvicted); // its oldest
    QVERIFY(!lightFirst->wasEvicted);
    QCOMPARE(h.pool.size(), 6);
    // 10.0.0.1 now holds 3, 10.0.0.2 2: the next newcomer also takes from 10.0.0.1.
    h.add(u"10.0.0.4"_s, &admitted);
    QVERIFY(admitted);
    QCOMPARE(h.evictedFrom(u"10.0.0.1"_s), 2);
    QCOMPARE(h.evictedFrom(u"10.0.0.2"_s), 0);
}

void TestPendingPool::fullPoolOfEqualsRefusesOneMore()
{
    Harness h(4, 0);
    for (const QString &a : {u"10.0.0.1"_s, u"10.0.0.1"_s, u"10.0.0.2"_s, u"10.0.0.2"_s})
        h.add(a);
    bool admitted = true;
    // 10.0.0.3 holds nothing: it gets in, at the cost of one of the two.
    h.add(u"10.0.0.3"_s, &admitted);
    QVERIFY(admitted);
    QCOMPARE(h.pool.evictions(), 1);
    // 10.0.0.1 (or .2), now holding 1 or 2, may not push out someone holding no more than itself.
    const QString heavy = h.pool.pendingFrom(QHostAddress(u"10.0.0.1"_s)) == 2 ? u"10.0.0.1"_s : u"10.0.0.2"_s;
    Probe *refused = h.add(heavy, &admitted);
    QVERIFY(!admitted);
    QVERIFY(!refused->isPending());
    QCOMPARE(h.pool.evictions(), 1);
    QCOMPARE(h.pool.size(), 4);
}

void TestPendingPool::ipv6CountsPerSlash64()
{
    Harness h(100, 2);
    h.add(u"2001:db8:1:2::1"_s);
    h.add(u"2001:db8:1:2:ffff::9"_s);
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"2001:db8:1:2::77"_s)), 2);
    h.add(u"2001:db8:1:2:abcd::1"_s);
    QCOMPARE(h.pool.evictions(), 1); // the same /64: over the share
    h.add(u"2001:db8:1:3::1"_s);
    QCOMPARE(h.pool.evictions(), 1); // another /64
    // IPv4-mapped IPv6 is the IPv4 address.
    h.add(u"::ffff:192.0.2.7"_s);
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"192.0.2.7"_s)), 1);
}

void TestPendingPool::trustedProxiesAreNeitherCappedNorEvicted()
{
    Harness h(4, 1, {u"10.9.0.0/16"_s});
    for (int i = 0; i < 4; ++i)
        h.add(u"10.9.0.1"_s);
    QCOMPARE(h.pool.evictions(), 0);
    QCOMPARE(h.pool.size(), 4);
    bool admitted = true;
    h.add(u"10.0.0.1"_s, &admitted);
    QVERIFY(!admitted); // nobody but the proxy to take from
    QCOMPARE(h.pool.evictions(), 0);
}

void TestPendingPool::releasedAndDestroyedEntriesLeave()
{
    Harness h(2, 0);
    Probe *a = h.add(u"10.0.0.1"_s);
    h.add(u"10.0.0.2"_s);
    h.pool.release(*a);
    QVERIFY(!a->isPending());
    QCOMPARE(h.pool.size(), 1);
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"10.0.0.1"_s)), 0);
    h.pool.release(*a); // twice is harmless
    QCOMPARE(h.pool.size(), 1);
    h.probes.pop_back(); // destroying an entry releases it
    QCOMPARE(h.pool.size(), 0);
    QCOMPARE(h.pool.pendingFrom(QHostAddress(u"10.0.0.2"_s)), 0);
    // A pool that goes first leaves its entries unlinked, not dangling.
    auto pool = std::make_unique<PendingPool>(2, 0, h.trusted);
    Probe late(u"10.0.0.3"_s);
    QVERIFY(pool->admit(late, QHostAddress(late.address)));
    pool.reset();
    QVERIFY(!late.isPending());
}

QTEST_GUILESS_MAIN(TestPendingPool)
#include "tst_pendingpool.moc"
