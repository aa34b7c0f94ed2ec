// What only the SQLite history store promises: seq and messages survive
// reopening, nothing readable on disk, the key is checked, altered records
// are refused, one process at a time, file modes, the bounded queue, calls
// gathered into shared commits (each answered only after its commit), limits
// applied on reopen, and the factory's start-up errors.

#include "StoreTestSupport.h"

#include "store/HistoryStoreFactory.h"

#include <QDirIterator>
#include <QMap>
#include <QSemaphore>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

#include <mutex>

using namespace storetest;

namespace {

mode_t fileMode(const QString &path)
{
    struct stat st = {};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return 0;
    return st.st_mode & 07777;
}

// Every file the store keeps in `dir` (database, write-ahead log, ...).
QByteArray allBytes(const QString &dir, QStringList *names = nullptr)
{
    QByteArray out;
    QDirIterator it(dir, QDir::Files | QDir::Hidden);
    while (it.hasNext()) {
        QFile f(it.next());
        if (names)
            names->append(f.fileName().section(u'/', -1));
        if (f.open(QIODevice::ReadOnly))
            out += f.readAll();
    }
    return out;
}

// Runs `edit` on the closed database through a connection of its own.
bool editDatabase(const QString &path, const std::function<bool(QSqlDatabase &)> &edit)
{
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, u"tamper"_s);
        db.setDatabaseName(path);
        ok = db.open() && edit(db);
        db.close();
    }
    QSqlDatabase::removeDatabase(u"tamper"_s);
    return ok;
}

bool execAll(QSqlDatabase &db, const QStringList &statements)
{
    for (const QString &sql : statements) {
        QSqlQuery q(db);
        if (!q.exec(sql)) {
            qWarning("%s", qPrintable(sql));
            return false;
        }
    }
    return true;
}

} // namespace

class TestSqliteHistoryStore final : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void seqAndMessagesSurviveReopen();
    void destructorFinishesWhatIsQueued();
    void filesAreOwnerOnly();
    void noPlaintextOnDisk();
    void wrongKeyIsRefused();
    void secondOpenerIsRefused();
    void alteredRecordIsRefused();
    void movedRecordIsRefused();
    void lowerLimitsApplyOnReopen();
    void ageBoundRemovesRowsFromDisk();
    void fullQueueRefusesAppendsInOrder();
    void callsArrivingTogetherShareOneCommit();
    void flushDoesNotWaitForAGatheringBatch();
    void factoryBackends();
    void factoryRefusals();

private:
    QString dbPath() const { return m_dir->filePath(u"history.db"_s); }

    std::unique_ptr<QTemporaryDir> m_dir;
    TestClock m_clock;
    QObject m_ctx;
};

void TestSqliteHistoryStore::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_clock = makeClock();
}

void TestSqliteHistoryStore::cleanup()
{
    m_dir.reset();
}

void TestSqliteHistoryStore::seqAndMessagesSurviveReopen()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        for (int i = 1; i <= 3; ++i) {
            const QByteArray n = QByteArray::number(i);
            QVERIFY(append(*store, &m_ctx, message(u"kept"_s, MessageClass::Chat, "m" + n, "k" + n)).ok);
        }
        for (int i = 1; i <= 2; ++i) {
            QVERIFY(append(*store, &m_ctx, message(u"deleted"_s, MessageClass::Chat, "x")).ok);
            QVERIFY(append(*store, &m_ctx, message(u"ended"_s, MessageClass::Chat, "x")).ok);
        }
        QVERIFY(deleteRoom(*store, &m_ctx, u"deleted"_s));
        QVERIFY(endRoom(*store, &m_ctx, u"ended"_s, kEpochMs, u"doctor-1"_s, 0, kEpochMs + 3'600'000));
    }
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    const ReadResult kept = read(*store, &m_ctx, u"kept"_s);
    QCOMPARE(bodies(kept.messages), (QList<QByteArray>{"m1", "m2", "m3"}));
    QCOMPARE(kept.lastSeq, 3);
    // Deduplication keys survive too.
    const AppendResult retry = append(*store, &m_ctx, message(u"kept"_s, MessageClass::Chat, "m2", "k2"));
    QVERIFY(retry.duplicate);
    QCOMPARE(retry.seq, 2);
    QCOMPARE(append(*store, &m_ctx, message(u"kept"_s, MessageClass::Chat, "m4")).seq, 4);

    // Counters outlive deleted messages, also across a restart.
    QCOMPARE(read(*store, &m_ctx, u"deleted"_s).oldestAvailable, 3);
    QCOMPARE(append(*store, &m_ctx, message(u"deleted"_s, MessageClass::Chat, "x")).seq, 3);
    const RoomRecord ended = room(*store, &m_ctx, u"ended"_s);
    QCOMPARE(ended.lastSeq, 2);
    QCOMPARE(ended.endedBy, u"doctor-1"_s);
    QCOMPARE(ended.refuseJoinsUntilMs, kEpochMs + 3'600'000);
    QCOMPARE(append(*store, &m_ctx, message(u"ended"_s, MessageClass::Chat, "x")).seq, 3);
}

void TestSqliteHistoryStore::destructorFinishesWhatIsQueued()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        for (int i = 0; i < 500; ++i)
            store->append(message(u"r"_s, MessageClass::Whiteboard, QByteArray(100, 'w')), &m_ctx, {});
        // No flush: the destructor must write all of it.
    }
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(r.lastSeq, 500);
    QCOMPARE(r.messages.size(), 500);
}

void TestSqliteHistoryStore::filesAreOwnerOnly()
{
    const mode_t oldMask = ::umask(0022);
    const QString dir = m_dir->filePath(u"data/nested"_s);
    auto store = openSqlite(dir, m_clock, {});
    ::umask(oldMask);
    QVERIFY(store);
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    QCOMPARE(fileMode(dir), mode_t(0700));
    QCOMPARE(fileMode(dir + u"/history.db"_s), mode_t(0600));
    if (QFile::exists(dir + u"/history.db-wal"_s))
        QCOMPARE(fileMode(dir + u"/history.db-wal"_s), mode_t(0600));

    // An existing, too open database file is narrowed on open.
    store.reset();
    QVERIFY(QFile::setPermissions(dir + u"/history.db"_s, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther));
    store = openSqlite(dir, m_clock, {});
    QVERIFY(store);
    QCOMPARE(fileMode(dir + u"/history.db"_s), mode_t(0600));
}

void TestSqliteHistoryStore::noPlaintextOnDisk()
{
    const QByteArray body = "patient says: my-distinctive-symptom-7f3a9c";
    const QByteArray key = "user-42|client-message-id-b81d5e";
    const QByteArray ended = "clinician-id-c0ffee";
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    for (int i = 0; i < 20; ++i) {
        const QByteArray n = QByteArray::number(i);
        QVERIFY(append(*store, &m_ctx, message(u"room-visible-in-clear"_s, MessageClass::Chat, body + n, key + n)).ok);
    }
    QVERIFY(endRoom(*store, &m_ctx, u"room-visible-in-clear"_s, kEpochMs, QString::fromLatin1(ended),
                    kEpochMs + 3'600'000, kEpochMs + 3'600'000));
    QVERIFY(store->flush(5000));

    // While open (the write-ahead log holds the latest pages) and after close.
    for (int pass = 0; pass < 2; ++pass) {
        QStringList names;
        const QByteArray disk = allBytes(m_dir->path(), &names);
        QVERIFY2(names.contains(u"history.db"_s), qPrintable(names.join(u',')));
        // The scan does see the database's contents: room ids are in clear.
        QVERIFY(disk.contains("room-visible-in-clear"));
        QVERIFY2(!disk.contains("my-distinctive-symptom"), qPrintable(names.join(u',')));
        QVERIFY(!disk.contains("client-message-id-b81d5e"));
        QVERIFY(!disk.contains(ended));
        QVERIFY(!disk.contains(testKey()));
        store.reset();
    }
    // And it reads back.
    store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    QCOMPARE(read(*store, &m_ctx, u"room-visible-in-clear"_s).messages.value(0).body, body + "0");
}

void TestSqliteHistoryStore::wrongKeyIsRefused()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "secret")).ok);
    }
    StoreSetup other;
    other.key = testKey('z');
    QString error;
    QVERIFY(!openSqlite(m_dir->path(), m_clock, other, &error));
    const QString file = QDir(m_dir->path()).absoluteFilePath(u"history.db"_s);
    QCOMPARE(error, u"history key does not match the history in %1"_s.arg(file));

    // Nothing was changed by the refused open.
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    QCOMPARE(read(*store, &m_ctx, u"r"_s).messages.value(0).body, QByteArray("secret"));
}

void TestSqliteHistoryStore::secondOpenerIsRefused()
{
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    QString error;
    QVERIFY(!openSqlite(m_dir->path(), m_clock, {}, &error));
    QVERIFY2(error.contains("in use"_L1), qPrintable(error));
    // The first store is unaffected.
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).seq, 2);
}

void TestSqliteHistoryStore::alteredRecordIsRefused()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        for (const QByteArray body : {"first", "second", "third"})
            QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, body)).ok);
    }
    // Flip one bit of seq 2's ciphertext (past the 12-byte nonce).
    QVERIFY(editDatabase(dbPath(), [](QSqlDatabase &db) {
        QSqlQuery q(db);
        if (!q.exec(u"SELECT body FROM messages WHERE seq = 2"_s) || !q.next())
            return false;
        QByteArray body = q.value(0).toByteArray();
        q.finish();
        if (body.size() <= HistoryCipher::kNonceBytes + 1)
            return false; // not a sealed record at all
        body[13] = char(body[13] ^ 0x01);
        QSqlQuery upd(db);
        upd.prepare(u"UPDATE messages SET body = ? WHERE seq = 2"_s);
        upd.bindValue(0, body);
        return upd.exec() && upd.numRowsAffected() == 1;
    }));

    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    ReadResult r = read(*store, &m_ctx, u"r"_s);
    QVERIFY(!r.ok);
    QVERIFY(r.messages.isEmpty());
    QVERIFY2(r.error.contains("authentication"_L1), qPrintable(r.error));
    SnapshotRequest req;
    req.roomId = u"r"_s;
    QVERIFY(!snapshot(*store, &m_ctx, req).ok);
    // What is intact still reads.
    r = read(*store, &m_ctx, u"r"_s, 2);
    QVERIFY(r.ok);
    QCOMPARE(bodies(r.messages), (QList<QByteArray>{"third"}));
    QCOMPARE(bodies(read(*store, &m_ctx, u"r"_s, 0, 1).messages), (QList<QByteArray>{"first"}));
}

void TestSqliteHistoryStore::movedRecordIsRefused()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        QVERIFY(append(*store, &m_ctx, message(u"a"_s, MessageClass::Chat, "a1")).ok);
        QVERIFY(append(*store, &m_ctx, message(u"a"_s, MessageClass::Chat, "a2")).ok);
        QVERIFY(append(*store, &m_ctx, message(u"b"_s, MessageClass::Chat, "b1")).ok);
        QVERIFY(endRoom(*store, &m_ctx, u"a"_s, kEpochMs, u"doctor-1"_s, kEpochMs + 3'600'000, 0));
    }
    // A record copied to another seq, another room, or another class, and
    // one room's endedBy given to another, must not open.
    QVERIFY(editDatabase(dbPath(), [](QSqlDatabase &db) {
        return execAll(db, {
            u"UPDATE messages SET body = (SELECT body FROM messages WHERE seq = 1 AND room ="
            " (SELECT id FROM rooms WHERE room_id = 'a')) WHERE seq = 2"_s,
            u"UPDATE messages SET body = (SELECT body FROM messages WHERE seq = 1 AND room ="
            " (SELECT id FROM rooms WHERE room_id = 'a')) WHERE room = (SELECT id FROM rooms WHERE room_id = 'b')"_s,
            u"UPDATE rooms SET ended_by = (SELECT ended_by FROM rooms WHERE room_id = 'a') WHERE room_id = 'b'"_s,
        });
    }));
    auto store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    QVERIFY(!read(*store, &m_ctx, u"a"_s, 1).ok);
    QVERIFY(!read(*store, &m_ctx, u"b"_s).ok);
    QVERIFY(!room(*store, &m_ctx, u"b"_s).ok);
    QCOMPARE(room(*store, &m_ctx, u"a"_s).endedBy, u"doctor-1"_s);
    QCOMPARE(bodies(read(*store, &m_ctx, u"a"_s, 0, 1).messages), (QList<QByteArray>{"a1"}));

    // Class is bound as well.
    store.reset();
    QVERIFY(editDatabase(dbPath(), [](QSqlDatabase &db) {
        return execAll(db, {u"UPDATE messages SET class = 2 WHERE seq = 1"_s});
    }));
    store = openSqlite(m_dir->path(), m_clock, {});
    QVERIFY(store);
    QVERIFY(!read(*store, &m_ctx, u"a"_s, 0, 1).ok);
}

void TestSqliteHistoryStore::lowerLimitsApplyOnReopen()
{
    {
        auto store = openSqlite(m_dir->path(), m_clock, {});
        QVERIFY(store);
        for (int i = 0; i < 10; ++i)
            QVERIFY(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    }
    StoreSetup smaller;
    smaller.limits.maxMessagesPerRoom = 3;
    {
        auto store = openSqlite(m_dir->path(), m_clock, smaller);
        QVERIFY(store);
        QCOMPARE(seqs(read(*store, &m_ctx, u"r"_s).messages), range(8, 10));
    }
    qint64 rows = -1;
    QVERIFY(editDatabase(dbPath(), [&rows](QSqlDatabase &db) {
        QSqlQuery q(db);
        if (!q.exec(u"SELECT COUNT(*) FROM messages"_s) || !q.next())
            return false;
        rows = q.value(0).toLongLong();
        return true;
    }));
    QCOMPARE(rows, 3); // removed from disk, not only hidden
}

// Rows (messages and deduplication keys) of each room, read from the closed database.
QMap<QString, std::pair<qint64, qint64>> rowsPerRoom(const QString &path)
{
    QMap<QString, std::pair<qint64, qint64>> out;
    editDatabase(path, [&out](QSqlDatabase &db) {
        QSqlQuery q(db);
        if (!q.exec(u"SELECT r.room_id, (SELECT COUNT(*) FROM messages m WHERE m.room = r.id),"
                    " (SELECT COUNT(*) FROM dedup d WHERE d.room = r.id) FROM rooms r"_s))
            return false;
        while (q.next())
            out.insert(q.value(0).toString(), {q.value(1).toLongLong(), q.value(2).toLongLong()});
        return true;
    });
    return out;
}

void TestSqliteHistoryStore::ageBoundRemovesRowsFromDisk()
{
    constexpr qint64 kMinute = 60'000;
    StoreSetup setup;
    setup.limits.maxAgeMs = 10 * kMinute;
    {
        auto store = openSqlite(m_dir->path(), m_clock, setup);
        QVERIFY(store);
        for (int i = 0; i < 3; ++i) {
            const QByteArray n = QByteArray::number(i);
            QVERIFY(append(*store, &m_ctx, message(u"quiet"_s, MessageClass::Chat, "q", "q" + n)).ok);
            QVERIFY(append(*store, &m_ctx, message(u"active"_s, MessageClass::Chat, "old", "a" + n)).ok);
        }
        m_clock->fetch_add(8 * kMinute);
        for (int i = 0; i < 2; ++i)
            QVERIFY(append(*store, &m_ctx, message(u"active"_s, MessageClass::Chat, "new", "b" + QByteArray::number(i))).ok);
        m_clock->fetch_add(3 * kMinute); // the first messages are 11 minutes old
        prune(*store);
        QVERIFY(read(*store, &m_ctx, u"active"_s).ok);
    }
    auto rows = rowsPerRoom(dbPath());
    QCOMPARE(rows.value(u"quiet"_s), (std::pair<qint64, qint64>(0, 0)));
    QCOMPARE(rows.value(u"active"_s), (std::pair<qint64, qint64>(2, 2)));

    // A room that goes quiet later is emptied by a later prune.
    {
        auto store = openSqlite(m_dir->path(), m_clock, setup);
        QVERIFY(store);
        m_clock->fetch_add(8 * kMinute);
        prune(*store);
        const ReadResult r = read(*store, &m_ctx, u"active"_s);
        QVERIFY(r.messages.isEmpty());
        QCOMPARE(r.lastSeq, 5);
    }
    rows = rowsPerRoom(dbPath());
    QCOMPARE(rows.value(u"active"_s), (std::pair<qint64, qint64>(0, 0)));
}

void TestSqliteHistoryStore::fullQueueRefusesAppendsInOrder()
{
    // The store's thread stops before its first batch until released.
    auto entered = std::make_shared<QSemaphore>();
    auto release = std::make_shared<QSemaphore>();
    auto first = std::make_shared<std::atomic<bool>>(true);
    StoreSetup setup;
    setup.maxQueued = 5;
    setup.beforeBatch = [entered, release, first] {
        if (first->exchange(false)) {
            entered->release();
            release->acquire();
        }
    };
    auto store = openSqlite(m_dir->path(), m_clock, setup);
    QVERIFY(store);

    auto results = std::make_shared<QList<AppendResult>>();
    auto collect = [results](AppendResult r) { results->append(r); };
    store->append(message(u"r"_s, MessageClass::Chat, "0"), &m_ctx, collect);
    QVERIFY(entered->tryAcquire(1, 10'000)); // the thread holds call 0 and waits
    for (int i = 1; i <= 10; ++i)
        store->append(message(u"r"_s, MessageClass::Chat, QByteArray::number(i)), &m_ctx, collect);
    StoreStats s = store->stats();
    QCOMPARE(s.queued, 10);
    QCOMPARE(s.failedWrites, 5); // calls 6..10, refused at once
    release->release();

    QVERIFY(store->flush(10'000));
    QTRY_COMPARE(results->size(), 11);
    for (int i = 0; i <= 5; ++i) {
        QVERIFY(results->at(i).ok);
        QCOMPARE(results->at(i).seq, i + 1);
    }
    for (int i = 6; i <= 10; ++i) {
        QVERIFY(!results->at(i).ok);
        QVERIFY2(results->at(i).error.contains("overloaded"_L1), qPrintable(results->at(i).error));
    }
    const ReadResult r = read(*store, &m_ctx, u"r"_s);
    QCOMPARE(bodies(r.messages), (QList<QByteArray>{"0", "1", "2", "3", "4", "5"}));
    s = store->stats();
    QCOMPARE(s.appended, 6);
    QCOMPARE(s.failedWrites, 5);
    QCOMPARE(s.queued, 0);
    // Once caught up, appends are taken again.
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).seq, 7);
}

namespace {

// Follows the store's commits from its thread: how many calls each one held.
struct CommitLog
{
    std::mutex mutex;
    QList<qsizetype> sizes;
    std::atomic<qint64> committedCalls{0};

    std::function<void(qsizetype)> hook()
    {
        return [this](qsizetype calls) {
            {
                std::lock_guard lock(mutex);
                sizes.append(calls);
            }
            committedCalls.fetch_add(calls);
        };
    }
    QList<qsizetype> snapshot()
    {
        std::lock_guard lock(mutex);
        return sizes;
    }
};

} // namespace

void TestSqliteHistoryStore::callsArrivingTogetherShareOneCommit()
{
    // Batches start at most once a minute here, or as soon as 100 calls wait.
    auto log = std::make_shared<CommitLog>();
    StoreSetup setup;
    setup.batchIntervalUs = 60'000'000;
    setup.batchTarget = 100;
    setup.afterCommit = log->hook();
    auto store = openSqlite(m_dir->path(), m_clock, setup);
    QVERIFY(store);

    // The store is idle: a single append is committed at once, not a minute later.
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "first", "k0")).seq, 1);
    QCOMPARE(log->snapshot(), (QList<qsizetype>{1}));

    // Calls that come while the interval runs wait for the next batch, which
    // starts when the hundredth arrives. Each is answered after that commit,
    // in call order.
    struct Seen
    {
        AppendResult result;
        qint64 committedBefore = 0;
    };
    auto seen = std::make_shared<QList<Seen>>();
    for (int i = 1; i <= 100; ++i) {
        store->append(message(u"r"_s, MessageClass::Chat, QByteArray::number(i), "k" + QByteArray::number(i)),
                      &m_ctx, [seen, log](AppendResult r) {
                          seen->append({std::move(r), log->committedCalls.load()});
                      });
    }
    QTRY_COMPARE_WITH_TIMEOUT(seen->size(), 100, 10'000);
    QCOMPARE(log->snapshot(), (QList<qsizetype>{1, 100}));
    for (int i = 0; i < 100; ++i) {
        QVERIFY(seen->at(i).result.ok);
        QCOMPARE(seen->at(i).result.seq, i + 2);
        QVERIFY(seen->at(i).committedBefore >= i + 2); // the first append, then this one and all before it
    }
    // All of them are stored (a read would wait for the next batch too: flush).
    auto stored = std::make_shared<std::optional<ReadResult>>();
    ReadRequest all;
    all.roomId = u"r"_s;
    store->read(all, &m_ctx, [stored](ReadResult r) { *stored = std::move(r); });
    QVERIFY(store->flush(10'000));
    QTRY_VERIFY(stored->has_value());
    QCOMPARE((*stored)->lastSeq, 101);
    QCOMPARE((*stored)->messages.size(), 101);
}

void TestSqliteHistoryStore::flushDoesNotWaitForAGatheringBatch()
{
    auto log = std::make_shared<CommitLog>();
    StoreSetup setup;
    setup.batchIntervalUs = 60'000'000;
    setup.batchTarget = 1000;
    setup.afterCommit = log->hook();
    auto store = openSqlite(m_dir->path(), m_clock, setup);
    QVERIFY(store);
    QCOMPARE(append(*store, &m_ctx, message(u"r"_s, MessageClass::Chat, "first")).seq, 1);

    // Five calls gather for a batch due in a minute; flush() has them
    // written now (its timeout is only the failure guard).
    auto results = std::make_shared<QList<AppendResult>>();
    for (int i = 0; i < 5; ++i)
        store->append(message(u"r"_s, MessageClass::Chat, "m"), &m_ctx, [results](AppendResult r) {
            results->append(r);
        });
    QVERIFY(store->flush(10'000));
    QCOMPARE(log->snapshot(), (QList<qsizetype>{1, 5}));
    QTRY_COMPARE(results->size(), 5);
    QCOMPARE(results->last().seq, 6);
}

void TestSqliteHistoryStore::factoryBackends()
{
    HistoryConfig off;
    off.backend = HistoryBackend::Off;
    OpenedHistory opened = openHistoryStore(off);
    QVERIFY2(opened.store, qPrintable(opened.error));
    QCOMPARE(opened.store->stats().backend, u"memory"_s);
    QCOMPARE(append(*opened.store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x", "k")).seq, 1);
    QVERIFY(append(*opened.store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x", "k")).duplicate);
    QVERIFY(read(*opened.store, &m_ctx, u"r"_s).messages.isEmpty()); // off: no bodies

    HistoryConfig memory;
    memory.backend = HistoryBackend::Memory;
    opened = openHistoryStore(memory);
    QVERIFY(opened.store);
    QVERIFY(append(*opened.store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    QCOMPARE(read(*opened.store, &m_ctx, u"r"_s).messages.size(), 1);

    const QString keyFile = m_dir->filePath(u"history.key"_s);
    QFile f(keyFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(testKey().toHex() + '\n');
    f.close();
    QVERIFY(QFile::setPermissions(keyFile, QFile::ReadOwner | QFile::WriteOwner));
    HistoryConfig sqlite;
    sqlite.backend = HistoryBackend::Sqlite;
    sqlite.dataDir = m_dir->filePath(u"data"_s);
    sqlite.keyFile = keyFile;
    opened = openHistoryStore(sqlite);
    QVERIFY2(opened.store, qPrintable(opened.error));
    QVERIFY(opened.warning.isEmpty());
    QCOMPARE(opened.store->stats().backend, u"sqlite"_s);
    QVERIFY(opened.store->stats().encrypted);
    QVERIFY(append(*opened.store, &m_ctx, message(u"r"_s, MessageClass::Chat, "x")).ok);
    opened.store.reset();

    // The same key in another form opens the same history; a readable file warns.
    f.open(QIODevice::WriteOnly | QIODevice::Truncate);
    f.write("  " + testKey().toBase64() + "\n");
    f.close();
    QVERIFY(QFile::setPermissions(keyFile, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup));
    opened = openHistoryStore(sqlite);
    QVERIFY2(opened.store, qPrintable(opened.error));
    QVERIFY(opened.warning.contains("group or others"_L1));
    QCOMPARE(read(*opened.store, &m_ctx, u"r"_s).lastSeq, 1);

    QCOMPARE(historyBackendFromName(u"SQLite"), HistoryBackend::Sqlite);
    QCOMPARE(historyBackendFromName(u"off"), HistoryBackend::Off);
    QVERIFY(!historyBackendFromName(u"redis"));
    QCOMPARE(historyBackendName(HistoryBackend::Memory), "memory"_L1);
}

void TestSqliteHistoryStore::factoryRefusals()
{
    HistoryConfig c;
    c.backend = HistoryBackend::Sqlite;
    c.dataDir = m_dir->filePath(u"data"_s);
    OpenedHistory opened = openHistoryStore(c);
    QVERIFY(!opened.store);
    QVERIFY2(opened.error.contains("key file"_L1), qPrintable(opened.error));

    c.keyFile = m_dir->filePath(u"missing.key"_s);
    opened = openHistoryStore(c);
    QVERIFY(!opened.store);
    QVERIFY2(opened.error.startsWith("cannot read history key file"_L1), qPrintable(opened.error));

    const QString keyFile = m_dir->filePath(u"short.key"_s);
    QFile f(keyFile);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("too short\n");
    f.close();
    c.keyFile = keyFile;
    opened = openHistoryStore(c);
    QVERIFY(!opened.store);
    QVERIFY2(opened.error.contains("32 raw bytes"_L1), qPrintable(opened.error));

    // A key that does not match the history already there.
    {
        auto store = openSqlite(c.dataDir, m_clock, {});
        QVERIFY(store);
    }
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(testKey('q'));
    f.close();
    QVERIFY(QFile::setPermissions(keyFile, QFile::ReadOwner | QFile::WriteOwner));
    opened = openHistoryStore(c);
    QVERIFY(!opened.store);
    QCOMPARE(opened.error,
             u"history key does not match the history in %1/history.db"_s.arg(QDir(c.dataDir).absolutePath()));

    // A data directory that cannot be created.
    QFile blocker(m_dir->filePath(u"not-a-dir"_s));
    QVERIFY(blocker.open(QIODevice::WriteOnly));
    blocker.close();
    c.dataDir = blocker.fileName() + u"/data"_s;
    opened = openHistoryStore(c);
    QVERIFY(!opened.store);
    QVERIFY2(opened.error.startsWith("cannot open history database"_L1), qPrintable(opened.error));
}

QTEST_GUILESS_MAIN(TestSqliteHistoryStore)
#include "tst_sqlitehistorystore.moc"
