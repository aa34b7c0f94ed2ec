// The HistoryStore contract, run against every backend (global data rows
// "memory" and "sqlite"; built again as tst_historystore_redis for "redis",
// against a redis-server the test starts): seq assignment, deduplication,
// reads and bounds, snapshots, ending and deleting rooms, retention and join
// refusals, and the callback rules (call order, the context's thread, a
// deleted context).

#include "StoreTestSupport.h"
#ifdef MEDRELAY_STORE_TEST_REDIS
#include "RedisServer.h"
#endif

#include <QSemaphore>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

using namespace storetest;

namespace {

constexpr qint64 kMinute = 60'000;

} // namespace

class TestHistoryStore final : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase_data();
    void initTestCase();
    void init();
    void cleanup();

    void seqStartsAtOneAndGrowsPerRoom();
    void badInputIsRefusedAndLosesNothing();
    void duplicateReturnsOriginalSeq();
    void deduplicationWindow();
    void readRangesAndCountBound();
    void readUnknownRoom();
    void ageBound();
    void snapshotSinceLastClear();
    void endRoomDeletesMessagesKeepsCounter();
    void endRoomWithRetention();
    void joinRefusalReportedThenExpires();
    void deleteRoomKeepsCounter();
    void historyOffKeepsNoBodies();
    void readSeesAppendsMadeBeforeIt();
    void callbacksInCallOrder();
    void callbacksOnContextThread();
    void deletedContextIsNotCalled();
    void nullContextStillStores();
    void statsCountAppends();

private:
    std::unique_ptr<HistoryStore> open(const StoreSetup &setup = {});

    std::unique_ptr<QTemporaryDir> m_dir;
    TestClock m_clock;
    QObject m_ctx;
#ifdef MEDRELAY_STORE_TEST_REDIS
    medrelay::test::RedisServer m_redis;
#endif
};

void TestHistoryStore::initTestCase_data()
{
    QTest::addColumn<QString>("backend");
#ifdef MEDRELAY_STORE_TEST_REDIS
    QTest::newRow("redis") << u"redis"_s;
#else
    QTest::newRow("memory") << u"memory"_s;
    QTest::newRow("sqlite") << u"sqlite"_s;
#endif
}

void TestHistoryStore::initTestCase()
{
#ifdef MEDRELAY_STORE_TEST_REDIS
    if (!medrelay::test::RedisServer::available())
        QSKIP("redis-server is not installed (scripts/install-deps.sh installs it)");
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
#endif
}

void TestHistoryStore::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_clock = makeClock();
#ifdef MEDRELAY_STORE_TEST_REDIS
    QCOMPARE(m_redis.command({"FLUSHALL"}).toByteArray(), QByteArray("OK"));
#endif
}

void TestHistoryStore::cleanup()
{
    m_dir.reset();
}

std::unique_ptr<HistoryStore> TestHistoryStore::open(const StoreSetup &setup)
{
    QFETCH_GLOBAL(QString, backend);
    QString error;
    StoreSetup withRedis = setup;
#ifdef MEDRELAY_STORE_TEST_REDIS
    withRedis.redisUrl = m_redis.url();
#endif
    auto store = openStore(backend, m_dir->path(), m_clock, withRedis, &error);
    if (!store)
        qWarning("cannot open the %s store: %s", qPrintable(backend), qPrintable(error));
    return store;
}

void TestHistoryStore::seqStartsAtOneAndGrowsPerRoom()
{
    auto store = open();
    QVERIFY(store);
    for (qint64 expected = 1; expected <= 5; ++expected) {
        const AppendResult r = append(*store, &m_ctx, message(u"room-a"_s, MessageClass::Chat, "hello"));
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(r.seq, expected);
        QVERIFY(!r.duplicate);
    }
    const AppendResult other = append(*store, &m_ctx, message(u"room-b"_s, MessageClass::Whiteboard, "stroke"));
    QVERIFY(other.ok);
    QCOMPARE(other.seq, 1);

    const ReadResult all = read(*store, &m_ctx, u"room-a"_s);
    QVERIFY(all.ok);
    QCOMPARE(seqs(all.messages), range(1, 5));
    QCOMPARE(all.lastSeq, 5);
    QCOMPARE(all.oldestAvailable, 1);
    QCOMPARE(all.messages.first().body, QByteArray("hello"));
    QCOMPARE(all.messages.first().cls, MessageClass::Chat);
    QCOMPARE(all.messages.first().createdAtMs, kEpochMs); // createdAtMs 0: the store's clock
    QCOMPARE(room(*store, &m_ctx, u"room-a"_s).lastSeq, 5);
}

void TestHistoryStore::badInputIsRefusedAndLosesNothing()
{
    auto store = open();
    QVERIFY(store);
    QVERIFY(append(*store, &m_ctx, message(u"room"_s, MessageClass::Chat, "first")).ok);

    AppendResult r = append(*store, &m_ctx, message(QString(), MessageClass::Chat, "x"));
    QVERIFY(!r.ok);
    QVERIFY(r.error.contains("room id"_L1));
    r = append(*store, &m_ctx, message(QString(300, u'r'), MessageClass::Chat, "x"));
    QVERIFY(!r.ok);
    r = append(*store, &m_ctx, message(u"room"_s, MessageClass(9), "x"));
    QVERIFY(!r.ok);
    QVERIFY(r.error.contains("class"_L1));
    r = append(*store, &m_ctx, message(u"room"_s, MessageClass::Chat, "x", QByteArray(2000, 'k')));
    QVERIFY(!r.ok);
    QVERIFY(!read(*store, &m_ctx, QString()).ok);
    QVERIFY(!room(*store, &m_ctx, QString()).ok);

    // The room goes on: no seq was used by the refused calls.
    r = append(*store, &m_ctx, message(u"room"_s, MessageClass::Chat, "second"));
    QVERIFY(r.ok);
    QCOMPARE(r.seq, 2);
    QCOMPARE(bodies(read(*store, &m_ctx, u"room"_s).messages), (QList<QByteArray>{"first", "second"}));
    QCOMPARE(store->stats().failedWrites, 4);
}

void TestHistoryStore::duplicateReturnsOriginalSeq()
{
    auto store = open();
    QVERIFY(store);
    const AppendResult first = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "hi", "user-1|m-1"));
    QVERIFY(first.ok);
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "other", "user-2|m-1")).ok);
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "no key")).ok);

    const AppendResult again = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "hi (retry)", "user-1|m-1"));
    QVERIFY(again.ok);
    QVERIFY(again.duplicate);
    QCOMPARE(again.seq, first.seq);

    // Stored once, with the first body; the counter did not move.
    const ReadResult all = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(bodies(all.messages), (QList<QByteArray>{"hi", "other", "no key"}));
    QCOMPARE(all.lastSeq, 3);

    // The same key in another room is another message.
    const AppendResult elsewhere = append(*store, &m_ctx, message(u"r2"_s, MessageClass::Chat, "hi", "user-1|m-1"));
    QVERIFY(elsewhere.ok);
    QVERIFY(!elsewhere.duplicate);
    QCOMPARE(elsewhere.seq, 1);

    // A duplicate within one batch (no wait in between) is caught too.
    auto results = std::make_shared<QList<AppendResult>>();
    for (int i = 0; i < 2; ++i)
        store->append(message(u"r3"_s, MessageClass::Chat, "once", "k"), &m_ctx,
                      [results](AppendResult r) { results->append(r); });
    QTRY_COMPARE(results->size(), 2);
    QCOMPARE(results->at(0).seq, 1);
    QVERIFY(!results->at(0).duplicate);
    QCOMPARE(results->at(1).seq, 1);
    QVERIFY(results->at(1).duplicate);
}

void TestHistoryStore::deduplicationWindow()
{
    StoreSetup setup;
    setup.limits.maxMessagesPerRoom = 2;
    setup.dedupWindow = 4; // the last max(2, 4) appends
    auto store = open(setup);
    QVERIFY(store);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "1", "k1")).seq, 1);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "2", "k2")).seq, 2);
    for (int i = 3; i <= 5; ++i)
        QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).seq, i);

    // Body of seq 2 is gone (count bound 2), its key is still in the window.
    QCOMPARE(read(*store, &m_ctx, u"r"_s).oldestAvailable, 4);
    AppendResult r = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "2 again", "k2"));
    QVERIFY(r.duplicate);
    QCOMPARE(r.seq, 2);
    // Seq 1 fell out of the window (1 <= 5 - 4): the key is new again.
    r = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "1 again", "k1"));
    QVERIFY(r.ok);
    QVERIFY(!r.duplicate);
    QCOMPARE(r.seq, 6);
}

void TestHistoryStore::readRangesAndCountBound()
{
    StoreSetup setup;
    setup.limits.maxMessagesPerRoom = 5;
    auto store = open(setup);
    QVERIFY(store);
    for (int i = 1; i <= 8; ++i)
        QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "m" + QByteArray::number(i))).seq, i);

    ReadResult r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.ok);
    QCOMPARE(seqs(r.messages), range(4, 8));
    QCOMPARE(r.messages.first().body, QByteArray("m4"));
    QCOMPARE(r.oldestAvailable, 4);
    QCOMPARE(r.lastSeq, 8);

    // A resume from before the oldest gets what is held; oldestAvailable shows the gap.
    r = read(*store, &m_ctx, u"r"_s, 1);
    QCOMPARE(seqs(r.messages), range(4, 8));
    QCOMPARE(r.oldestAvailable, 4);
    r = read(*store, &m_ctx, u"r"_s, 5, 7);
    QCOMPARE(seqs(r.messages), (QList<qint64>{6, 7}));
    r = read(*store, &m_ctx, u"r"_s, 5, 8, 1);
    QCOMPARE(seqs(r.messages), (QList<qint64>{6}));
    r = read(*store, &m_ctx, u"r"_s, 8);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    r = read(*store, &m_ctx, u"r"_s, 0, 0);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 8);

    // Pruning changes nothing more: the bound already holds.
    prune(*store);
    r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(seqs(r.messages), range(4, 8));
}

void TestHistoryStore::readUnknownRoom()
{
    auto store = open();
    QVERIFY(store);
    const ReadResult r = read(*store, &m_ctx, u"never-seen"_s);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 0);
    QCOMPARE(r.oldestAvailable, 1);
    const RoomRecord rec = room(*store, &m_ctx, u"never-seen"_s);
    QVERIFY(rec.ok);
    QCOMPARE(rec.lastSeq, 0);
    QCOMPARE(rec.endedAtMs, 0);
    QCOMPARE(rec.refuseJoinsUntilMs, 0);
}

void TestHistoryStore::ageBound()
{
    StoreSetup setup;
    setup.limits.maxAgeMs = 10 * kMinute;
    auto store = open(setup);
    QVERIFY(store);
    for (int i = 0; i < 3; ++i)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "old", "old-" + QByteArray::number(i))).ok);
    m_clock->fetch_add(6 * kMinute);
    for (int i = 0; i < 2; ++i)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "new")).ok);
    m_clock->fetch_add(5 * kMinute); // the first three are 11 minutes old, the others 5

    ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(seqs(r.messages), (QList<qint64>{4, 5}));
    QCOMPARE(r.oldestAvailable, 4);
    prune(*store);
    r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(seqs(r.messages), (QList<qint64>{4, 5}));

    // An expired message's key no longer deduplicates.
    AppendResult again = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "old", "old-0"));
    QVERIFY(!again.duplicate);
    QCOMPARE(again.seq, 6);

    m_clock->fetch_add(20 * kMinute);
    prune(*store);
    r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 6);
    QCOMPARE(r.oldestAvailable, 7);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "later")).seq, 7);
}

void TestHistoryStore::snapshotSinceLastClear()
{
    auto store = open();
    QVERIFY(store);
    const QList<std::pair<MessageClass, QByteArray>> script = {
        {MessageClass::Whiteboard, "wb1"}, // 1
        {MessageClass::Chat, "chat1"},     // 2
        {MessageClass::WhiteboardClear, "clear"}, // 3
        {MessageClass::Whiteboard, "wb2"}, // 4
        {MessageClass::Chat, "chat2"},     // 5
        {MessageClass::Whiteboard, "wb3"}, // 6
        {MessageClass::Chat, "chat3"},     // 7
    };
    for (const auto &[cls, body] : script)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, cls, body)).ok);

    SnapshotRequest req;
    req.roomId = u"r"_s;
    req.recentChat = 2;
    Snapshot s = snapshot(*store, &m_ctx, req);
    QVERIFY2(s.ok, qPrintable(s.error));
    QCOMPARE(bodies(s.whiteboard), (QList<QByteArray>{"wb2", "wb3"}));
    QCOMPARE(bodies(s.recentChat), (QList<QByteArray>{"chat2", "chat3"}));
    QCOMPARE(seqs(s.whiteboard), (QList<qint64>{4, 6}));

    req.maxWhiteboard = 1; // the most recent ones
    QCOMPARE(bodies(snapshot(*store, &m_ctx, req).whiteboard), (QList<QByteArray>{"wb3"}));
    req.maxWhiteboard = 2000;

    req.upToSeq = 4; // as the room stood after seq 4
    s = snapshot(*store, &m_ctx, req);
    QCOMPARE(bodies(s.whiteboard), (QList<QByteArray>{"wb2"}));
    QCOMPARE(bodies(s.recentChat), (QList<QByteArray>{"chat1"}));

    req.upToSeq = 2; // before the clear
    s = snapshot(*store, &m_ctx, req);
    QCOMPARE(bodies(s.whiteboard), (QList<QByteArray>{"wb1"}));
    QCOMPARE(bodies(s.recentChat), (QList<QByteArray>{"chat1"}));

    req.upToSeq = 3; // the clear itself is not part of the whiteboard
    s = snapshot(*store, &m_ctx, req);
    QVERIFY(s.whiteboard.isEmpty());

    // A clear as the last message leaves an empty whiteboard.
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::WhiteboardClear, "clear")).ok);
    req.upToSeq = std::numeric_limits<qint64>::max();
    req.recentChat = 50;
    s = snapshot(*store, &m_ctx, req);
    QVERIFY(s.whiteboard.isEmpty());
    QCOMPARE(bodies(s.recentChat), (QList<QByteArray>{"chat1", "chat2", "chat3"}));

    req.roomId = u"empty"_s;
    s = snapshot(*store, &m_ctx, req);
    QVERIFY(s.ok);
    QVERIFY(s.whiteboard.isEmpty() && s.recentChat.isEmpty());
}

void TestHistoryStore::endRoomDeletesMessagesKeepsCounter()
{
    auto store = open();
    QVERIFY(store);
    for (int i = 0; i < 3; ++i)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x", "key-" + QByteArray::number(i))).ok);
    const qint64 refuseUntil = kEpochMs + 60 * kMinute;
    QVERIFY(endRoom(*store, &m_ctx, u"r"_s, kEpochMs, u"doctor-7"_s, 0, refuseUntil));

    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 3);
    QCOMPARE(r.oldestAvailable, 4);
    const RoomRecord rec = room(*store, &m_ctx, u"r"_s);
    QVERIFY(rec.ok);
    QCOMPARE(rec.lastSeq, 3);
    QCOMPARE(rec.endedAtMs, kEpochMs);
    QCOMPARE(rec.endedBy, u"doctor-7"_s);
    QCOMPARE(rec.refuseJoinsUntilMs, refuseUntil);

    // The counter goes on; the deleted messages' keys went with them.
    const AppendResult next = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x", "key-0"));
    QVERIFY(!next.duplicate);
    QCOMPARE(next.seq, 4);

    // Ending a room the store never saw records the end (joins are refused).
    QVERIFY(endRoom(*store, &m_ctx, u"fresh"_s, kEpochMs, QString(), 0, refuseUntil));
    QCOMPARE(room(*store, &m_ctx, u"fresh"_s).refuseJoinsUntilMs, refuseUntil);
    QCOMPARE(append(*store, &m_ctx, message(u"fresh"_s, MessageClass::Chat, "x")).seq, 1);
}

void TestHistoryStore::endRoomWithRetention()
{
    auto store = open();
    QVERIFY(store);
    for (int i = 0; i < 3; ++i)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "kept")).ok);
    const qint64 retainUntil = kEpochMs + 30 * kMinute;
    QVERIFY(endRoom(*store, &m_ctx, u"r"_s, kEpochMs, u"doctor-7"_s, retainUntil, kEpochMs + 10 * kMinute));

    ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(seqs(r.messages), range(1, 3));
    prune(*store);
    QCOMPARE(seqs(read(*store, &m_ctx, u"r"_s).messages), range(1, 3));

    m_clock->fetch_add(31 * kMinute);
    prune(*store);
    r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 3);
    QCOMPARE(r.oldestAvailable, 4);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).seq, 4);
}

void TestHistoryStore::joinRefusalReportedThenExpires()
{
    auto store = open();
    QVERIFY(store);
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    const qint64 refuseUntil = kEpochMs + 5 * kMinute;
    QVERIFY(endRoom(*store, &m_ctx, u"r"_s, kEpochMs, u"nurse-2"_s, 0, refuseUntil));
    m_clock->fetch_add(4 * kMinute);
    prune(*store);
    RoomRecord rec = room(*store, &m_ctx, u"r"_s);
    QCOMPARE(rec.refuseJoinsUntilMs, refuseUntil);
    QCOMPARE(rec.endedBy, u"nurse-2"_s);

    m_clock->fetch_add(2 * kMinute);
    prune(*store);
    rec = room(*store, &m_ctx, u"r"_s);
    QVERIFY(rec.ok);
    QCOMPARE(rec.refuseJoinsUntilMs, 0);
    QVERIFY(rec.endedBy.isEmpty());
    QCOMPARE(rec.endedAtMs, kEpochMs);
    QCOMPARE(rec.lastSeq, 1);
}

void TestHistoryStore::deleteRoomKeepsCounter()
{
    auto store = open();
    QVERIFY(store);
    for (int i = 0; i < 3; ++i)
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Whiteboard, "s")).ok);
    QVERIFY(deleteRoom(*store, &m_ctx, u"r"_s));
    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.oldestAvailable, 4);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).seq, 4);
    QVERIFY(deleteRoom(*store, &m_ctx, u"unknown"_s));
    QCOMPARE(room(*store, &m_ctx, u"r"_s).endedAtMs, 0); // deleting is not ending
}

void TestHistoryStore::historyOffKeepsNoBodies()
{
    StoreSetup setup;
    setup.limits.maxMessagesPerRoom = 0;
    auto store = open(setup);
    QVERIFY(store);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "a", "k-a")).seq, 1);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Whiteboard, "b")).seq, 2);
    const AppendResult dup = append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "a", "k-a"));
    QVERIFY(dup.duplicate);
    QCOMPARE(dup.seq, 1);

    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(r.ok);
    QVERIFY(r.messages.isEmpty());
    QCOMPARE(r.lastSeq, 2);
    QCOMPARE(r.oldestAvailable, 3);
    SnapshotRequest req;
    req.roomId = u"r"_s;
    const Snapshot s = snapshot(*store, &m_ctx, req);
    QVERIFY(s.ok);
    QVERIFY(s.whiteboard.isEmpty() && s.recentChat.isEmpty());
    QCOMPARE(store->stats().rooms, 0);
}

void TestHistoryStore::readSeesAppendsMadeBeforeIt()
{
    auto store = open();
    QVERIFY(store);
    // No waiting between the calls: on SQLite they share one batch.
    for (int i = 0; i < 3; ++i)
        store->append(message(u"r"_s, MessageClass::Chat, "m" + QByteArray::number(i)), &m_ctx, {});
    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(seqs(r.messages), range(1, 3));
    QCOMPARE(r.lastSeq, 3);
}

void TestHistoryStore::callbacksInCallOrder()
{
    auto store = open();
    QVERIFY(store);
    auto order = std::make_shared<QList<int>>();
    constexpr int kCalls = 300;
    for (int i = 0; i < kCalls; ++i) {
        const QString r = u"room-%1"_s.arg(i % 3);
        switch (i % 5) {
        case 0:
        case 1:
        case 2:
            store->append(message(r, MessageClass::Chat, "m"), &m_ctx, [order, i](AppendResult) { order->append(i); });
            break;
        case 3: {
            ReadRequest req;
            req.roomId = r;
            store->read(req, &m_ctx, [order, i](ReadResult) { order->append(i); });
            break;
        }
        default:
            store->room(r, &m_ctx, [order, i](RoomRecord) { order->append(i); });
        }
    }
    QVERIFY(store->flush(10'000));
    QTRY_COMPARE(order->size(), kCalls);
    QList<int> expected;
    for (int i = 0; i < kCalls; ++i)
        expected.append(i);
    QCOMPARE(*order, expected);
}

void TestHistoryStore::callbacksOnContextThread()
{
    auto store = open();
    QVERIFY(store);
    QThread worker;
    QObject context;
    context.moveToThread(&worker);
    worker.start();

    struct Seen
    {
        QMutex mutex;
        QList<int> order;
        QList<QThread *> threads;
    };
    auto seen = std::make_shared<Seen>();
    auto note = [seen](int i) {
        QMutexLocker lock(&seen->mutex);
        seen->order.append(i);
        seen->threads.append(QThread::currentThread());
    };
    constexpr int kCalls = 50;
    for (int i = 0; i < kCalls; ++i) {
        if (i % 2 == 0) {
            store->append(message(u"r"_s, MessageClass::Chat, "m"), &context, [note, i](AppendResult) { note(i); });
        } else {
            store->room(u"r"_s, &context, [note, i](RoomRecord) { note(i); });
        }
    }
    QVERIFY(store->flush(10'000));
    QTRY_COMPARE(([&] {
                     QMutexLocker lock(&seen->mutex);
                     return seen->order.size();
                 }()),
                 kCalls);
    {
        QMutexLocker lock(&seen->mutex);
        for (int i = 0; i < kCalls; ++i) {
            QCOMPARE(seen->order.at(i), i);
            QCOMPARE(seen->threads.at(i), &worker);
        }
    }
    worker.quit();
    QVERIFY(worker.wait(5000));
}

void TestHistoryStore::deletedContextIsNotCalled()
{
    auto store = open();
    QVERIFY(store);
    // The context's thread is not running yet, so callbacks wait in its queue.
    QThread worker;
    auto *context = new QObject;
    context->moveToThread(&worker);
    QObject barrier;
    barrier.moveToThread(&worker);

    auto calls = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < 10; ++i)
        store->append(message(u"r"_s, MessageClass::Chat, "m"), context, [calls](AppendResult) { ++*calls; });
    QVERIFY(store->flush(10'000));
    delete context; // its thread does not run: deleting it from here is safe

    // Calls naming a context that is already gone: nothing to deliver either.
    worker.start();
    auto reached = std::make_shared<std::atomic<bool>>(false);
    QMetaObject::invokeMethod(&barrier, [reached] { *reached = true; }, Qt::QueuedConnection);
    QTRY_VERIFY(reached->load());
    QCOMPARE(calls->load(), 0);
    // The messages themselves were stored.
    QCOMPARE(read(*store, &m_ctx, u"r"_s).lastSeq, 10);

    // A context on this thread deleted before its callback's turn.
    auto *local = new QObject;
    for (int i = 0; i < 5; ++i)
        store->append(message(u"r"_s, MessageClass::Chat, "m"), local, [calls](AppendResult) { ++*calls; });
    const int ranAlready = calls->load(); // the memory store calls back before append() returns
    delete local;
    QVERIFY(store->flush(10'000));
    QCOMPARE(read(*store, &m_ctx, u"r"_s).lastSeq, 15); // runs the event loop past the posted callbacks
    QCOMPARE(calls->load(), ranAlready);
    QFETCH_GLOBAL(QString, backend);
    QCOMPARE(ranAlready, backend == "memory"_L1 ? 5 : 0);

    worker.quit();
    QVERIFY(worker.wait(5000));
}

void TestHistoryStore::nullContextStillStores()
{
    auto store = open();
    QVERIFY(store);
    auto calls = std::make_shared<int>(0);
    store->append(message(u"r"_s, MessageClass::Chat, "a"), nullptr, [calls](AppendResult) { ++*calls; });
    store->append(message(u"r"_s, MessageClass::Chat, "b"), &m_ctx, {});
    store->endRoom(u"x"_s, kEpochMs, QString(), 0, 0, nullptr, {});
    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(bodies(r.messages), (QList<QByteArray>{"a", "b"}));
    QCOMPARE(*calls, 0);
    QCOMPARE(room(*store, &m_ctx, u"x"_s).endedAtMs, kEpochMs);
}

void TestHistoryStore::statsCountAppends()
{
    auto store = open();
    QVERIFY(store);
    QFETCH_GLOBAL(QString, backend);
    QCOMPARE(store->stats().backend, backend);
    QCOMPARE(store->stats().encrypted, backend != "memory"_L1);
    for (int i = 0; i < 4; ++i) {
        const AppendResult r =
            append(*store, &m_ctx, message(u"r%1"_s.arg(i % 2), MessageClass::Chat, "x", "k" + QByteArray::number(i)));
        QVERIFY(r.ok);
    }
    QVERIFY(append(*store, &m_ctx, message(u"r0"_s, MessageClass::Chat, "x", "k0")).duplicate);
    prune(*store); // refreshes the room count of the SQLite store
    QVERIFY(read(*store, &m_ctx, u"r0"_s).ok);
    const StoreStats s = store->stats();
    QCOMPARE(s.appended, 4);
    QCOMPARE(s.failedWrites, 0);
    QCOMPARE(s.rooms, 2);
    QCOMPARE(s.queued, 0);
    QVERIFY(!s.degraded);
}

QTEST_GUILESS_MAIN(TestHistoryStore)
#include "tst_historystore.moc"
