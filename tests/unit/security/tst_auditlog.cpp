// AuditLog and AuditVerifier: the chain is written, verified, continued after
// a restart, and any edit, deletion, reordering or torn write is found and
// named by line; the keyed chain, its checkpoints (records cut off the end),
// rotation across files (a missing file), retention, and the backlog kept
// while the disk refuses writes.

#include "security/AuditCheckpoint.h"
#include "security/AuditFiles.h"
#include "security/AuditKeyFile.h"
#include "security/AuditLog.h"
#include "security/AuditVerifier.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <csignal>

#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

using namespace Qt::StringLiterals;
using namespace medrelay::security;

namespace {

AuditEntry entry(AuditEvent e, int i)
{
    AuditEntry a;
    a.event = e;
    a.actor = QString::number(1000 + i);
    a.role = u"clinician"_s;
    a.connectionId = u"c%1"_s.arg(i);
    a.address = u"127.0.0.1"_s;
    a.roomId = u"room-%1"_s.arg(i % 3);
    a.appointmentId = 500 + i;
    return a;
}

QList<QByteArray> readLines(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QList<QByteArray> lines = f.readAll().split('\n');
    if (!lines.isEmpty() && lines.constLast().isEmpty())
        lines.removeLast();
    return lines;
}

bool writeLines(const QString &path, const QList<QByteArray> &lines)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    for (const QByteArray &l : lines)
        f.write(l + '\n');
    return true;
}

const AuditKey kKey = AuditKey::fromSecret("0123456789abcdef0123456789abcdef-test-key");
const AuditKey kOtherKey = AuditKey::fromSecret("another-key-another-key-another-key-0000");

AuditKeyRing ring(const AuditKey &key = kKey)
{
    return {{key.id, key.secret}};
}

// One unkeyed file, as logs were written before keys existed.
AuditVerifyResult verifyFile(const QString &path)
{
    return verifyAuditFiles({path});
}

// A data directory as `--verify-audit DIR` reads it: every file, the key,
// the checkpoint beside the log.
AuditVerifyResult verifyDir(const QString &dir, const AuditKeyRing &keys = ring())
{
    AuditVerifyOptions o;
    o.keys = keys;
    QFile cp(QDir(dir).filePath(AuditFiles::kCheckpoint));
    if (cp.open(QIODevice::ReadOnly)) {
        if (auto c = AuditCheckpoint::parse(cp.readAll()))
            o.checkpoints.append(*c);
    } else {
        o.checkpointMissing = true;
    }
    return verifyAuditFiles(AuditFiles::chainFiles(dir), o);
}

AuditLogOptions keyed(const AuditKey &key = kKey)
{
    AuditLogOptions o;
    o.key = key;
    return o;
}

// A settable clock for rotation by day and retention.
struct TestClock
{
    std::shared_ptr<std::atomic<qint64>> ms = std::make_shared<std::atomic<qint64>>(0);
    void set(const QDateTime &t) const { ms->store(t.toMSecsSinceEpoch()); }
    [[nodiscard]] std::function<QDateTime()> fn() const
    {
        return [m = ms] { return QDateTime::fromMSecsSinceEpoch(m->load(), Qt::UTC); };
    }
};

// Makes writes to files beyond `bytes` fail (EFBIG) for this process, the
// way a full disk makes them fail: no privileges needed.
struct FileSizeLimit
{
    rlimit saved{};
    explicit FileSizeLimit(rlim_t bytes)
    {
        std::signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &saved);
        rlimit l = saved;
        l.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &l);
    }
    ~FileSizeLimit() { lift(); }
    Q_DISABLE_COPY_MOVE(FileSizeLimit)
    void lift() const { setrlimit(RLIMIT_FSIZE, &saved); }
};

} // namespace

class TestAuditLog final : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void writeAndVerify();
    void recordShape();
    void firstRecordStartsChain();
    void tamperedFieldIsNamed_data();
    void tamperedFieldIsNamed();
    void rehashedTamperCaughtByNextRecord();
    void deletedRecordCaught();
    void swappedRecordsCaught();
    void tornLastLineCaught();
    void reopenContinuesChain();
    void reopenRefusesBrokenChain();
    void startNewFileWhenBroken();
    void secondWriterRefused();
    void detailCannotCarryText();
    void filePermissions();
    void verifyCommandOutput();
    void postedRecordsAreChained();
    void destructorWritesQueue();
    void keyedRecordShape();
    void keyedChainNeedsItsKey();
    void rewrittenChainCaught();
    void truncationCaughtByCheckpoint();
    void forgedCheckpointCaught();
    void checkpointsGoToTheSystemLog();
    void unkeyedLogContinuesKeyed();
    void replacedKeyContinuesChain();
    void downgradeCaught();
    void rotationBySizeContinuesChain();
    void missingFileCaught();
    void rotationByDay();
    void interruptedRotationContinues();
    void retentionDeletesOldFilesAndSaysSo();
    void backlogWhileWritesFail();
    void fullBacklogDropsAndCounts();
    void keyFilePermissions();
    void verifyCommandFindsKeyAndCheckpoint();

private:
    QString writeRecords(int n);
    // Writes n signed records into data/ and closes the log; returns data/.
    QString writeKeyed(int n, AuditLogOptions options = {});
    std::unique_ptr<QTemporaryDir> m_dir;
};

void TestAuditLog::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

QString TestAuditLog::writeRecords(int n)
{
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    if (!opened.log)
        return {};
    const AuditEvent events[] = {AuditEvent::Connect, AuditEvent::Join, AuditEvent::Leave,
                                 AuditEvent::Disconnect, AuditEvent::JoinDenied, AuditEvent::AuthFailed,
                                 AuditEvent::AdminAction, AuditEvent::RoomClosed};
    for (int i = 0; i < n; ++i) {
        if (!opened.log->append(entry(events[i % 8], i)))
            return {};
    }
    return opened.log->filePath();
}

void TestAuditLog::writeAndVerify()
{
    const QString path = writeRecords(10);
    QVERIFY(!path.isEmpty());
    QCOMPARE(readLines(path).size(), 10);
    const auto r = verifyFile(path);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 10);
    QCOMPARE(r.lastLineHash.size(), 64);
}

void TestAuditLog::recordShape()
{
    const QString path = writeRecords(2);
    const QList<QByteArray> lines = readLines(path);
    const QJsonObject o = QJsonDocument::fromJson(lines.at(1)).object();
    QCOMPARE(o.value("seq"_L1).toInteger(), 2);
    QCOMPARE(o.value("event"_L1).toString(), u"join"_s);
    QCOMPARE(o.value("actor"_L1).toString(), u"1001"_s);
    QCOMPARE(o.value("role"_L1).toString(), u"clinician"_s);
    QCOMPARE(o.value("connectionId"_L1).toString(), u"c1"_s);
    QCOMPARE(o.value("address"_L1).toString(), u"127.0.0.1"_s);
    QCOMPARE(o.value("roomId"_L1).toString(), u"room-1"_s);
    QCOMPARE(o.value("appointmentId"_L1).toInteger(), 501);
    QVERIFY(o.value("detail"_L1).isNull());
    const QDateTime ts = QDateTime::fromString(o.value("ts"_L1).toString(), Qt::ISODateWithMs);
    QVERIFY(ts.isValid());
    QCOMPARE(ts.timeSpec(), Qt::UTC);
    QVERIFY(o.value("ts"_L1).toString().endsWith(u'Z'));
    QCOMPARE(o.value("ts"_L1).toString().size(), 24); // 2024-01-01T00:00:00.000Z
    // prev is the SHA-256 of the previous line, exactly as stored.
    QCOMPARE(o.value("prev"_L1).toString().toLatin1(),
             QCryptographicHash::hash(lines.at(0), QCryptographicHash::Sha256).toHex());
    // hash covers the record without its hash member, in the stored form.
    QByteArray canonical = lines.at(1);
    canonical.replace("\"hash\":\"" + o.value("hash"_L1).toString().toLatin1() + "\",", "");
    QCOMPARE(o.value("hash"_L1).toString().toLatin1(),
             QCryptographicHash::hash(canonical, QCryptographicHash::Sha256).toHex());
}

void TestAuditLog::firstRecordStartsChain()
{
    const QString path = writeRecords(1);
    const QJsonObject o = QJsonDocument::fromJson(readLines(path).at(0)).object();
    QCOMPARE(o.value("prev"_L1).toString(), QString(64, u'0'));
    QCOMPARE(o.value("seq"_L1).toInteger(), 1);
}

void TestAuditLog::tamperedFieldIsNamed_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue>("value");
    QTest::addRow("actor") << u"actor"_s << QJsonValue(u"9999"_s);
    QTest::addRow("event") << u"event"_s << QJsonValue(u"leave"_s);
    QTest::addRow("roomId") << u"roomId"_s << QJsonValue(u"room-x"_s);
    QTest::addRow("appointmentId") << u"appointmentId"_s << QJsonValue(1);
    QTest::addRow("ts") << u"ts"_s << QJsonValue(u"2020-01-01T00:00:00.000Z"_s);
    QTest::addRow("prev") << u"prev"_s << QJsonValue(QString(64, u'a'));
    QTest::addRow("seq") << u"seq"_s << QJsonValue(99);
    QTest::addRow("extra field") << u"note"_s << QJsonValue(u"x"_s);
}

void TestAuditLog::tamperedFieldIsNamed()
{
    QFETCH(QString, field);
    QFETCH(QJsonValue, value);
    const QString path = writeRecords(7);
    QList<QByteArray> lines = readLines(path);
    QJsonObject o = QJsonDocument::fromJson(lines.at(3)).object();
    o[field] = value;
    lines[3] = QJsonDocument(o).toJson(QJsonDocument::Compact);
    QVERIFY(writeLines(path, lines));
    const auto r = verifyFile(path);
    QVERIFY(!r.ok());
    QCOMPARE(r.badLine, 4);
    QCOMPARE(r.records, 3);
    QVERIFY(!r.reason.isEmpty());
}

void TestAuditLog::rehashedTamperCaughtByNextRecord()
{
    // Someone who edits a record and recomputes its own hash still breaks
    // the link from the record after it.
    const QString path = writeRecords(5);
    QList<QByteArray> lines = readLines(path);
    QJsonObject o = QJsonDocument::fromJson(lines.at(1)).object();
    o["actor"_L1] = u"forged"_s;
    o.remove("hash"_L1);
    o["hash"_L1] = QString::fromLatin1(QCryptographicHash::hash(QJsonDocument(o).toJson(QJsonDocument::Compact),
                                                                QCryptographicHash::Sha256)
                                           .toHex());
    lines[1] = QJsonDocument(o).toJson(QJsonDocument::Compact);
    QVERIFY(writeLines(path, lines));
    const auto r = verifyFile(path);
    QVERIFY(!r.ok());
    QCOMPARE(r.badLine, 3);
    QVERIFY2(r.reason.contains(u"prev"_s), qPrintable(r.reason));
}

void TestAuditLog::deletedRecordCaught()
{
    const QString path = writeRecords(6);
    QList<QByteArray> lines = readLines(path);
    lines.removeAt(2);
    QVERIFY(writeLines(path, lines));
    const auto r = verifyFile(path);
    QVERIFY(!r.ok());
    QCOMPARE(r.badLine, 3);
    QVERIFY2(r.reason.contains(u"seq"_s), qPrintable(r.reason));

    // Deleting the first record is caught too.
    lines.removeFirst();
    QVERIFY(writeLines(path, lines));
    const auto first = verifyFile(path);
    QVERIFY(!first.ok());
    QCOMPARE(first.badLine, 1);
}

void TestAuditLog::swappedRecordsCaught()
{
    const QString path = writeRecords(6);
    QList<QByteArray> lines = readLines(path);
    lines.swapItemsAt(1, 2);
    QVERIFY(writeLines(path, lines));
    const auto r = verifyFile(path);
    QVERIFY(!r.ok());
    QCOMPARE(r.badLine, 2);
}

void TestAuditLog::tornLastLineCaught()
{
    const QString path = writeRecords(4);
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadWrite));
    QVERIFY(f.resize(f.size() - 10));
    f.close();
    const auto r = verifyFile(path);
    QVERIFY(!r.ok());
    QCOMPARE(r.badLine, 4);
    QCOMPARE(r.records, 3);
}

void TestAuditLog::reopenContinuesChain()
{
    QString path = writeRecords(3);
    {
        auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
        QVERIFY2(opened.log, qPrintable(opened.error));
        QCOMPARE(opened.log->lastSeq(), 3u);
        QVERIFY(opened.log->append(entry(AuditEvent::Leave, 3)));
        QCOMPARE(opened.log->lastSeq(), 4u);
    }
    const auto r = verifyFile(path);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 4);
    const QJsonObject o = QJsonDocument::fromJson(readLines(path).at(3)).object();
    QCOMPARE(o.value("seq"_L1).toInteger(), 4);
}

void TestAuditLog::reopenRefusesBrokenChain()
{
    const QString path = writeRecords(3);
    QList<QByteArray> lines = readLines(path);
    lines[2].replace("room-", "ROOM-");
    QVERIFY(writeLines(path, lines));
    const auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(!opened.log);
    QVERIFY2(opened.error.contains(u"broken"_s), qPrintable(opened.error));
    QCOMPARE(readLines(path), lines); // untouched

    // A torn (incomplete) last line is refused as well.
    QFile f(path);
    QVERIFY(f.open(QIODevice::Append));
    f.write("{\"seq\":4");
    f.close();
    QVERIFY(!AuditLog::open(m_dir->filePath(u"data"_s)).log);
}

void TestAuditLog::startNewFileWhenBroken()
{
    const QString path = writeRecords(3);
    QFile f(path);
    QVERIFY(f.open(QIODevice::Append));
    f.write("{\"seq\":4");
    f.close();
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s), {}, AuditLog::OpenMode::StartNewFileIfBroken);
    QVERIFY2(opened.log, qPrintable(opened.error));
    QVERIFY(!opened.movedAside.isEmpty());
    QVERIFY(QFile::exists(opened.movedAside));
    QCOMPARE(opened.log->lastSeq(), 0u);
    QVERIFY(opened.log->append(entry(AuditEvent::Connect, 0)));
    const auto r = verifyFile(path);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 1);
    QVERIFY(!verifyFile(opened.movedAside).ok());
}

void TestAuditLog::secondWriterRefused()
{
    auto first = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(first.log);
    auto second = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(!second.log);
    QVERIFY2(second.error.contains(u"in use"_s), qPrintable(second.error));
}

void TestAuditLog::detailCannotCarryText()
{
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(opened.log);
    AuditEntry e = entry(AuditEvent::AdminAction, 1);
    e.actor = u"admin:ops\n1"_s;
    e.detail = u"close_room reason=\"hello <b>patient</b>\" \u00e9\n"_s + QString(500, u'x');
    QVERIFY(opened.log->append(e));
    const QList<QByteArray> lines = readLines(opened.log->filePath());
    QCOMPARE(lines.size(), 1);
    const QJsonObject o = QJsonDocument::fromJson(lines.at(0)).object();
    const QString detail = o.value("detail"_L1).toString();
    QCOMPARE(detail.size(), 200);
    QVERIFY(!detail.contains(u'"'));
    QVERIFY(!detail.contains(u'<'));
    QVERIFY(!detail.contains(u'\n'));
    QVERIFY(detail.startsWith(u"close_room reason=?hello ?b?patient?/b??"_s));
    QCOMPARE(o.value("actor"_L1).toString(), u"admin:ops?1"_s);
    QVERIFY(verifyFile(opened.log->filePath()).ok());

    // An entry without an actor is the system's.
    AuditEntry sys;
    sys.event = AuditEvent::RoomClosed;
    QVERIFY(opened.log->append(sys));
    const QJsonObject s = QJsonDocument::fromJson(readLines(opened.log->filePath()).at(1)).object();
    QCOMPARE(s.value("actor"_L1).toString(), u"system"_s);
    QVERIFY(s.value("roomId"_L1).isNull());
    QVERIFY(s.value("appointmentId"_L1).isNull());
}

void TestAuditLog::filePermissions()
{
    const QString path = writeRecords(1);
    struct stat st{};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0600u);
    QCOMPARE(::stat(QFile::encodeName(m_dir->filePath(u"data"_s)).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0700u);
}

void TestAuditLog::verifyCommandOutput()
{
    const QString path = writeRecords(3);
    QString text;
    QTextStream out(&text);
    QCOMPARE(runVerifyAuditCommand({path}, {}, {}, out), 0);
    QVERIFY2(text.contains(u"OK, 3 records"_s), qPrintable(text));
    QCOMPARE(text.count(u'\n'), 1);

    QList<QByteArray> lines = readLines(path);
    lines[1].replace("clinician", "patient");
    QVERIFY(writeLines(path, lines));
    text.clear();
    QCOMPARE(runVerifyAuditCommand({path}, {}, {}, out), 1);
    QVERIFY2(text.contains(u"BROKEN at line 2"_s), qPrintable(text));
    QCOMPARE(text.count(u'\n'), 1);

    text.clear();
    QCOMPARE(runVerifyAuditCommand({m_dir->filePath(u"nope.jsonl"_s)}, {}, {}, out), 2);
    QVERIFY(text.contains(u"cannot read"_s));

    // An empty file is an intact, empty chain.
    QFile empty(m_dir->filePath(u"empty.jsonl"_s));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    text.clear();
    QCOMPARE(runVerifyAuditCommand({empty.fileName()}, {}, {}, out), 0);
}

void TestAuditLog::postedRecordsAreChained()
{
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(opened.log);
    AuditLog *log = opened.log.get();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([log, t] {
            for (int i = 0; i < 100; ++i) {
                log->post(entry(AuditEvent::Join, t * 1000 + i));
                if (i % 25 == 0)
                    log->append(entry(AuditEvent::AdminAction, t)); // mixed with synchronous writes
            }
        });
    }
    for (auto &t : threads)
        t.join();
    QVERIFY(log->flush());
    QCOMPARE(log->status().failedWrites, 0u);
    QCOMPARE(log->lastSeq(), 416u);
    const auto r = verifyFile(log->filePath());
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 416);
}

void TestAuditLog::destructorWritesQueue()
{
    QString path;
    {
        auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
        QVERIFY(opened.log);
        path = opened.log->filePath();
        for (int i = 0; i < 50; ++i)
            opened.log->post(entry(AuditEvent::Connect, i));
    }
    const auto r = verifyFile(path);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 50);
}

namespace {

QByteArray sha256Hex(QByteArrayView data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
}

// What someone who can write the files but lacks the key can do: rebuild
// every record (edited by `edit`) and relink the chain, unsigned or signed
// with a key of their own.
QList<QByteArray> rechain(const QList<QByteArray> &lines, const std::function<void(int, QJsonObject &)> &edit,
                          const AuditKey *ownKey)
{
    QList<QByteArray> out;
    QByteArray prev(64, '0');
    for (int i = 0; i < lines.size(); ++i) {
        QJsonObject o = QJsonDocument::fromJson(lines.at(i)).object();
        o.remove("hash"_L1);
        o.remove("kid"_L1);
        if (edit)
            edit(i, o);
        o["prev"_L1] = QString::fromLatin1(prev);
        if (ownKey)
            o["kid"_L1] = QString::fromLatin1(ownKey->id);
        const QByteArray body = QJsonDocument(o).toJson(QJsonDocument::Compact);
        o["hash"_L1] = QString::fromLatin1(
            ownKey ? QMessageAuthenticationCode::hash(body, ownKey->secret, QCryptographicHash::Sha256).toHex()
                   : sha256Hex(body));
        out.append(QJsonDocument(o).toJson(QJsonDocument::Compact));
        prev = sha256Hex(out.constLast());
    }
    return out;
}

QList<QJsonObject> recordsOf(const QString &dir, const QString &event)
{
    QList<QJsonObject> out;
    for (const QString &file : AuditFiles::chainFiles(dir)) {
        for (const QByteArray &line : readLines(file)) {
            const QJsonObject o = QJsonDocument::fromJson(line).object();
            if (o.value("event"_L1).toString() == event)
                out.append(o);
        }
    }
    return out;
}

} // namespace

QString TestAuditLog::writeKeyed(int n, AuditLogOptions options)
{
    if (!options.key)
        options.key = kKey;
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s), options);
    if (!opened.log) {
        qWarning("%s", qPrintable(opened.error));
        return {};
    }
    for (int i = 0; i < n; ++i)
        opened.log->post(entry(AuditEvent::Join, i));
    if (!opened.log->flush())
        return {};
    return opened.log->directory();
}

void TestAuditLog::keyedRecordShape()
{
    const QString dir = writeKeyed(2);
    QVERIFY(!dir.isEmpty());
    const QList<QByteArray> lines = readLines(QDir(dir).filePath(AuditFiles::kActive));
    QCOMPARE(lines.size(), 2);
    const QJsonObject o = QJsonDocument::fromJson(lines.at(1)).object();
    QCOMPARE(o.value("kid"_L1).toString().toLatin1(), kKey.id);
    QCOMPARE(o.value("prev"_L1).toString().toLatin1(), sha256Hex(lines.at(0)));
    const QByteArray hash = o.value("hash"_L1).toString().toLatin1();
    QByteArray unsignedLine = lines.at(1);
    unsignedLine.replace("\"hash\":\"" + hash + "\",", "");
    QCOMPARE(hash, QMessageAuthenticationCode::hash(unsignedLine, kKey.secret, QCryptographicHash::Sha256).toHex());
    QVERIFY(hash != sha256Hex(unsignedLine)); // not something anyone can recompute
    const auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 2);
    QCOMPARE(r.firstSignedSeq, 1);
    QCOMPARE(r.checkpointsMatched, 1);
}

void TestAuditLog::keyedChainNeedsItsKey()
{
    const QString dir = writeKeyed(5);
    QVERIFY(!dir.isEmpty());
    const auto none = verifyDir(dir, {});
    QCOMPARE(none.outcome, AuditVerifyResult::Outcome::Unreadable);
    QVERIFY2(none.reason.contains(u"signed with key"_s), qPrintable(none.reason));
    QCOMPARE(verifyDir(dir, ring(kOtherKey)).outcome, AuditVerifyResult::Outcome::Unreadable);
    const auto right = verifyDir(dir);
    QVERIFY2(right.ok(), qPrintable(right.reason));
    // The writer does not continue a signed chain without its key.
    const auto reopened = AuditLog::open(dir);
    QVERIFY(!reopened.log);
    QVERIFY2(reopened.error.contains(u"key"_s), qPrintable(reopened.error));
}

void TestAuditLog::rewrittenChainCaught()
{
    const QString dir = writeKeyed(6);
    QVERIFY(!dir.isEmpty());
    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    const QList<QByteArray> original = readLines(path);
    const auto forge = [](int i, QJsonObject &o) {
        if (i == 2)
            o["actor"_L1] = u"somebody-else"_s;
    };

    // Rewritten as a valid unsigned chain: the checkpoint no longer matches.
    QVERIFY(writeLines(path, rechain(original, forge, nullptr)));
    QVERIFY(verifyFile(path).ok()); // as a plain hash chain it is consistent...
    auto r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken); // ...but not the chain that was signed
    QVERIFY2(r.reason.contains(u"checkpoint"_s), qPrintable(r.reason));
    // Without the checkpoint either, a signed log's end is unprotected: refused.
    const QString cpPath = QDir(dir).filePath(AuditFiles::kCheckpoint);
    QVERIFY(QFile::rename(cpPath, cpPath + ".gone"_L1));
    r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY(QFile::rename(cpPath + ".gone"_L1, cpPath));

    // Only the edited record, re-signed with another key: its HMAC fails.
    QList<QByteArray> lines = original;
    QJsonObject o = QJsonDocument::fromJson(lines.at(2)).object();
    o["actor"_L1] = u"somebody-else"_s;
    o.remove("hash"_L1);
    o["hash"_L1] = QString::fromLatin1(QMessageAuthenticationCode::hash(QJsonDocument(o).toJson(QJsonDocument::Compact),
                                                                        kOtherKey.secret, QCryptographicHash::Sha256)
                                           .toHex());
    lines[2] = QJsonDocument(o).toJson(QJsonDocument::Compact);
    QVERIFY(writeLines(path, lines));
    r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QCOMPARE(r.badLine, 3);
    QVERIFY2(r.reason.contains(u"HMAC"_s), qPrintable(r.reason));

    // The whole chain signed with the forger's own key does not verify
    // with the clinic's key.
    QVERIFY(writeLines(path, rechain(original, forge, &kOtherKey)));
    QCOMPARE(verifyDir(dir).outcome, AuditVerifyResult::Outcome::Unreadable);
}

void TestAuditLog::truncationCaughtByCheckpoint()
{
    const QString dir = writeKeyed(10);
    QVERIFY(!dir.isEmpty());
    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    QList<QByteArray> lines = readLines(path);
    lines.resize(7); // three records cut off the end: still a valid chain
    QVERIFY(writeLines(path, lines));
    AuditVerifyOptions withoutCheckpoint;
    withoutCheckpoint.keys = ring();
    QVERIFY(verifyAuditFiles({path}, withoutCheckpoint).ok()); // a consistent chain by itself
    auto r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY2(r.reason.contains(u"removed from its end"_s), qPrintable(r.reason));
    // The server refuses to continue such a log.
    const auto reopened = AuditLog::open(dir, keyed());
    QVERIFY(!reopened.log);
    QVERIFY2(reopened.error.contains(u"removed from its end"_s), qPrintable(reopened.error));
}

void TestAuditLog::forgedCheckpointCaught()
{
    const QString dir = writeKeyed(4);
    QVERIFY(!dir.isEmpty());
    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    QList<QByteArray> lines = readLines(path);
    lines.resize(2);
    QVERIFY(writeLines(path, lines));
    // The checkpoint moved back to match the shorter log, without the key.
    const QString cpPath = QDir(dir).filePath(AuditFiles::kCheckpoint);
    QFile cp(cpPath);
    QVERIFY(cp.open(QIODevice::ReadOnly));
    QJsonObject o = QJsonDocument::fromJson(cp.readAll()).object();
    cp.close();
    o["seq"_L1] = 2;
    o["line"_L1] = QString::fromLatin1(sha256Hex(lines.at(1)));
    QVERIFY(writeLines(cpPath, {QJsonDocument(o).toJson(QJsonDocument::Compact)}));
    const auto r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY2(r.reason.contains(u"does not verify"_s), qPrintable(r.reason));
    const auto reopened = AuditLog::open(dir, keyed());
    QVERIFY(!reopened.log);
    QVERIFY2(reopened.error.contains(u"does not verify"_s), qPrintable(reopened.error));
}

void TestAuditLog::checkpointsGoToTheSystemLog()
{
    auto journal = std::make_shared<QList<QByteArray>>();
    auto journalMutex = std::make_shared<std::mutex>();
    AuditLogOptions options = keyed();
    options.onCheckpoint = [journal, journalMutex](const QByteArray &json) {
        std::lock_guard lock(*journalMutex);
        journal->append("Nov 27 10:00:00 clinic medrelay-server[42]: audit checkpoint " + json);
    };
    QString dir;
    {
        auto opened = AuditLog::open(m_dir->filePath(u"data"_s), options);
        QVERIFY(opened.log);
        dir = opened.log->directory();
        for (int i = 0; i < 3; ++i)
            opened.log->post(entry(AuditEvent::Join, i));
        QVERIFY(opened.log->flush());
        for (int i = 3; i < 6; ++i)
            opened.log->post(entry(AuditEvent::Leave, i));
        QVERIFY(opened.log->flush());
    }
    QList<QByteArray> lines;
    {
        std::lock_guard lock(*journalMutex);
        lines = *journal;
    }
    QCOMPARE(lines.size(), 2);
    QCOMPARE(AuditCheckpoint::parse(lines.at(0))->seq, 3);
    QCOMPARE(AuditCheckpoint::parse(lines.at(1))->seq, 6);
    const QString journalFile = m_dir->filePath(u"journal.txt"_s);
    QVERIFY(writeLines(journalFile, lines));
    const QString keyFile = m_dir->filePath(u"key"_s);
    QVERIFY(writeLines(keyFile, {kKey.secret}));

    // Someone with write access cuts two records and puts back the older
    // checkpoint (its HMAC is valid: it was the server's).
    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    QList<QByteArray> log = readLines(path);
    log.resize(4);
    QVERIFY(writeLines(path, log));
    QVERIFY(writeLines(QDir(dir).filePath(AuditFiles::kCheckpoint), {lines.at(0).mid(lines.at(0).indexOf('{'))}));
    QVERIFY(verifyDir(dir).ok()); // the replayed checkpoint alone cannot tell
    // The copies in the system log can.
    QString text;
    QTextStream out(&text);
    QCOMPARE(runVerifyAuditCommand({dir}, {keyFile}, {journalFile}, out), 1);
    QVERIFY2(text.contains(u"removed from its end"_s), qPrintable(text));
}

void TestAuditLog::unkeyedLogContinuesKeyed()
{
    QVERIFY(!writeRecords(3).isEmpty()); // an older, unsigned log
    const QString dir = writeKeyed(2);
    QVERIFY(!dir.isEmpty());
    const auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 5);
    QCOMPARE(r.firstSignedSeq, 4);
    QCOMPARE(verifyDir(dir, {}).outcome, AuditVerifyResult::Outcome::Unreadable);
}

void TestAuditLog::replacedKeyContinuesChain()
{
    QVERIFY(!writeKeyed(3).isEmpty());
    const QString dir = writeKeyed(2, keyed(kOtherKey));
    QVERIFY(!dir.isEmpty());
    AuditKeyRing both = ring();
    both.insert(kOtherKey.id, kOtherKey.secret);
    const auto r = verifyDir(dir, both);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 5);
    QCOMPARE(r.keyIds, (QByteArrayList{kKey.id, kOtherKey.id}));
    // Each record needs the key that signed it.
    QCOMPARE(verifyDir(dir, ring(kOtherKey)).outcome, AuditVerifyResult::Outcome::Unreadable);
}

void TestAuditLog::downgradeCaught()
{
    const QString dir = writeKeyed(3);
    QVERIFY(!dir.isEmpty());
    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    QList<QByteArray> lines = readLines(path);
    lines.append(AuditRecord::build(entry(AuditEvent::Leave, 9), 4, sha256Hex(lines.constLast()),
                                    u"2026-01-01T00:00:00.000Z"_s, nullptr));
    QVERIFY(writeLines(path, lines));
    AuditVerifyOptions o;
    o.keys = ring();
    const auto r = verifyAuditFiles({path}, o);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QCOMPARE(r.badLine, 4);
    QVERIFY2(r.reason.contains(u"unsigned record after signed"_s), qPrintable(r.reason));
}

void TestAuditLog::rotationBySizeContinuesChain()
{
    AuditLogOptions options = keyed();
    options.rotateBytes = 4096;
    const QString dir = writeKeyed(40, options);
    QVERIFY(!dir.isEmpty());
    const auto rotated = AuditFiles::rotatedFiles(dir);
    QVERIFY2(rotated.size() >= 3, qPrintable(QString::number(rotated.size())));
    quint64 expectedFirst = 1;
    for (const auto &file : rotated) {
        QVERIFY(QFileInfo(file.path).size() < 4096 + 1024);
        const QList<QByteArray> lines = readLines(file.path);
        QCOMPARE(QJsonDocument::fromJson(lines.constFirst()).object().value("seq"_L1).toInteger(), qint64(expectedFirst));
        QCOMPARE(QJsonDocument::fromJson(lines.constLast()).object().value("seq"_L1).toInteger(), qint64(file.lastSeq));
        expectedFirst = file.lastSeq + 1;
    }
    auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 40);
    QCOMPARE(r.files, rotated.size() + 1);
    // A restart continues the chain in the same set of files.
    QVERIFY(!writeKeyed(1, options).isEmpty());
    r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.lastSeq, 41);
}

void TestAuditLog::missingFileCaught()
{
    AuditLogOptions options = keyed();
    options.rotateBytes = 4096;
    const QString dir = writeKeyed(40, options);
    QVERIFY(!dir.isEmpty());
    const auto rotated = AuditFiles::rotatedFiles(dir);
    QVERIFY(rotated.size() >= 3);
    const QString aside = m_dir->filePath(u"aside.jsonl"_s);

    // A file from the middle.
    QVERIFY(QFile::rename(rotated.at(1).path, aside));
    auto r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QCOMPARE(r.badFile, rotated.at(2).path);
    QCOMPARE(r.badLine, 1);
    QVERIFY2(r.reason.contains(u"is missing"_s), qPrintable(r.reason));
    QVERIFY(QFile::rename(aside, rotated.at(1).path));

    // The oldest file, not deleted by the retention policy.
    QVERIFY(QFile::rename(rotated.at(0).path, aside));
    r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY2(r.reason.contains(u"no files_deleted record"_s), qPrintable(r.reason));
    QVERIFY(QFile::rename(aside, rotated.at(0).path));

    // The newest rotated file: the checkpoint names a record past the end.
    QVERIFY(QFile::rename(rotated.constLast().path, aside));
    r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY(QFile::rename(aside, rotated.constLast().path));
    QVERIFY(verifyDir(dir).ok());
}

void TestAuditLog::rotationByDay()
{
    TestClock clock;
    AuditLogOptions options = keyed();
    options.clock = clock.fn();
    options.rotateBytes = 0;
    {
        auto opened = AuditLog::open(m_dir->filePath(u"data"_s), options);
        QVERIFY(opened.log);
        clock.set(QDateTime(QDate(2026, 3, 1), QTime(23, 59, 58), Qt::UTC));
        QVERIFY(opened.log->append(entry(AuditEvent::Join, 1)));
        QVERIFY(opened.log->append(entry(AuditEvent::Join, 2)));
        clock.set(QDateTime(QDate(2026, 3, 2), QTime(0, 0, 1), Qt::UTC));
        QVERIFY(opened.log->append(entry(AuditEvent::Leave, 3)));
        clock.set(QDateTime(QDate(2026, 3, 2), QTime(12, 0), Qt::UTC));
        QVERIFY(opened.log->append(entry(AuditEvent::Leave, 4)));
        QVERIFY(opened.log->flush());
    }
    const QString dir = m_dir->filePath(u"data"_s);
    const auto rotated = AuditFiles::rotatedFiles(dir);
    QCOMPARE(rotated.size(), 1);
    QCOMPARE(QFileInfo(rotated.at(0).path).fileName(), u"audit-20260301T235958Z-2.jsonl"_s);
    QCOMPARE(readLines(rotated.at(0).path).size(), 2);
    QCOMPARE(readLines(QDir(dir).filePath(AuditFiles::kActive)).size(), 2);
    const auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 4);
}

void TestAuditLog::interruptedRotationContinues()
{
    AuditLogOptions options = keyed();
    options.rotateBytes = 4096;
    const QString dir = writeKeyed(20, options);
    QVERIFY(!dir.isEmpty());
    // A rotation that renamed the active file and stopped before creating
    // the next one.
    const QString active = QDir(dir).filePath(AuditFiles::kActive);
    const QJsonObject last = QJsonDocument::fromJson(readLines(active).constLast()).object();
    const QString rotatedPath = QDir(dir).filePath(AuditFiles::rotatedName(
        QDateTime::fromString(last.value("ts"_L1).toString(), Qt::ISODateWithMs), quint64(last.value("seq"_L1).toInteger())));
    QVERIFY(QFile::rename(active, rotatedPath));
    QVERIFY(!writeKeyed(2, options).isEmpty());
    const auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.lastSeq, 22);
}

void TestAuditLog::retentionDeletesOldFilesAndSaysSo()
{
    TestClock clock;
    const QDateTime day0(QDate(2026, 1, 1), QTime(12, 0), Qt::UTC);
    AuditLogOptions options = keyed();
    options.clock = clock.fn();
    options.rotateBytes = 0;
    const QString dir = m_dir->filePath(u"data"_s);
    {
        auto opened = AuditLog::open(dir, options);
        QVERIFY(opened.log);
        for (int d = 0; d < 10; ++d) {
            clock.set(day0.addDays(d));
            for (int i = 0; i < 3; ++i)
                QVERIFY(opened.log->append(entry(AuditEvent::Join, d * 3 + i)));
        }
        QVERIFY(opened.log->flush());
    }
    QCOMPARE(AuditFiles::rotatedFiles(dir).size(), 9); // days 0-8; day 9 is the active file
    QVERIFY(verifyDir(dir).ok());

    // Six years is the usual policy; five days here. The last record of the
    // files of days 0-4 is older than that at day 9, 13:00.
    clock.set(day0.addDays(9).addSecs(3600));
    options.retentionDays = 5;
    {
        auto opened = AuditLog::open(dir, options);
        QVERIFY2(opened.log, qPrintable(opened.error));
        QTRY_COMPARE(AuditFiles::rotatedFiles(dir).size(), 4);
        QVERIFY(opened.log->flush());
    }
    const auto deleted = recordsOf(dir, u"files_deleted"_s);
    QCOMPARE(deleted.size(), 5);
    QVERIFY(deleted.at(0).value("detail"_L1).toString().contains(u"retention_days=5"_s));
    auto r = verifyDir(dir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QVERIFY(r.startRemovedByRetention);
    QCOMPARE(r.firstSeq, 16);

    // A file removed by hand, not by the policy, is reported.
    QVERIFY(QFile::remove(AuditFiles::rotatedFiles(dir).at(0).path));
    r = verifyDir(dir);
    QCOMPARE(r.outcome, AuditVerifyResult::Outcome::Broken);
    QVERIFY2(r.reason.contains(u"no files_deleted record"_s), qPrintable(r.reason));
}

void TestAuditLog::backlogWhileWritesFail()
{
    AuditLogOptions options = keyed();
    options.retryIntervalMs = 20;
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s), options);
    QVERIFY(opened.log);
    AuditLog &log = *opened.log;
    for (int i = 0; i < 3; ++i)
        log.post(entry(AuditEvent::Join, i));
    QVERIFY(log.flush());
    const QString path = log.filePath();
    {
        // Not one more byte fits: every write fails as on a full disk.
        FileSizeLimit full(rlim_t(QFileInfo(path).size()));
        for (int i = 3; i < 13; ++i)
            log.post(entry(AuditEvent::Leave, i));
        QTRY_VERIFY(log.status().behind);
        QCOMPARE(log.status().backlog, 10u);
        QVERIFY(log.status().failedWrites >= 1);
        QVERIFY(!log.flush(100));
        QCOMPARE(readLines(path).size(), 3); // nothing partial left behind
        QVERIFY(verifyDir(log.directory()).ok());
        full.lift(); // room again
        QTRY_COMPARE(log.status().backlog, 0u);
        QVERIFY(!log.status().behind);
    }
    QVERIFY(log.flush());
    QCOMPARE(log.status().droppedRecords, 0u);
    QCOMPARE(log.status().written, 13u);
    const auto r = verifyDir(log.directory());
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.records, 13);
}

void TestAuditLog::fullBacklogDropsAndCounts()
{
    AuditLogOptions options = keyed();
    options.retryIntervalMs = 20;
    options.backlogLimit = 5;
    auto alerts = std::make_shared<std::atomic<int>>(0);
    options.onAlert = [alerts](const QString &) { ++*alerts; };
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s), options);
    QVERIFY(opened.log);
    AuditLog &log = *opened.log;
    QVERIFY(log.append(entry(AuditEvent::Connect, 0)));
    {
        FileSizeLimit full(rlim_t(QFileInfo(log.filePath()).size()));
        for (int i = 1; i <= 8; ++i)
            log.post(entry(AuditEvent::Join, i));
        QCOMPARE(log.status().backlog, 5u);
        QCOMPARE(log.status().droppedRecords, 3u);
        QTRY_VERIFY(log.status().behind);
        full.lift();
        QTRY_COMPARE(log.status().backlog, 0u);
    }
    log.post(entry(AuditEvent::Leave, 9)); // the gap is written before it
    QVERIFY(log.flush());
    QVERIFY(*alerts >= 2); // writes failing, records dropped
    const auto dropped = recordsOf(log.directory(), u"records_dropped"_s);
    QCOMPARE(dropped.size(), 1);
    QVERIFY2(dropped.at(0).value("detail"_L1).toString().startsWith(u"count=3 first="_s),
             qPrintable(dropped.at(0).value("detail"_L1).toString()));
    const QList<QByteArray> lines = readLines(log.filePath());
    QCOMPARE(lines.size(), 1 + 5 + 1 + 1);
    QCOMPARE(QJsonDocument::fromJson(lines.at(6)).object().value("event"_L1).toString(), u"records_dropped"_s);
    const auto r = verifyDir(log.directory());
    QVERIFY2(r.ok(), qPrintable(r.reason));
}

void TestAuditLog::keyFilePermissions()
{
    const QString path = m_dir->filePath(u"audit.key"_s);
    const auto created = loadOrCreateAuditKeyFile(path);
    QVERIFY2(created.key, qPrintable(created.error));
    QVERIFY(created.created);
    struct stat st{};
    QCOMPARE(::stat(QFile::encodeName(path).constData(), &st), 0);
    QCOMPARE(st.st_mode & 0777, 0600u);
    QCOMPARE(QFileInfo(path).size(), 65); // 32 random bytes as hex, and a newline
    const auto again = loadOrCreateAuditKeyFile(path);
    QVERIFY(again.key && !again.created);
    QCOMPARE(again.key->id, created.key->id);

    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup));
    QVERIFY(loadAuditKeyFile(path).key); // 0640: the service's group may read it
    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
    QVERIFY(loadAuditKeyFile(path).error.contains(u"other users"_s));
    QVERIFY(loadAuditKeyFile(path, false).key); // an auditor's copy, used only to verify
    QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::WriteGroup));
    QVERIFY(!loadAuditKeyFile(path).key);

    const QString shortKey = m_dir->filePath(u"short.key"_s);
    QVERIFY(writeLines(shortKey, {"too-short"}));
    QVERIFY(QFile::setPermissions(shortKey, QFile::ReadOwner | QFile::WriteOwner));
    QVERIFY(loadAuditKeyFile(shortKey).error.contains(u"at least 32"_s));
    QVERIFY(!loadAuditKeyFile(m_dir->filePath(u"missing.key"_s)).key);
}

void TestAuditLog::verifyCommandFindsKeyAndCheckpoint()
{
    const QString dir = m_dir->filePath(u"data"_s);
    QVERIFY(QDir().mkpath(dir));
    const auto key = loadOrCreateAuditKeyFile(QDir(dir).filePath(AuditFiles::kKey));
    QVERIFY(key.key);
    AuditLogOptions options;
    options.key = key.key;
    QVERIFY(!writeKeyed(5, options).isEmpty());
    QString text;
    QTextStream out(&text);
    QCOMPARE(runVerifyAuditCommand({dir}, {}, {}, out), 0);
    QVERIFY2(text.contains(u"OK, 5 records in 1 file (seq 1-5), signed (HMAC-SHA256, key "_s), qPrintable(text));
    QVERIFY2(text.contains(u"1 checkpoint matched"_s), qPrintable(text));
    QCOMPARE(text.count(u'\n'), 1);

    const QString path = QDir(dir).filePath(AuditFiles::kActive);
    QList<QByteArray> lines = readLines(path);
    lines[3].replace("\"actor\":\"1003\"", "\"actor\":\"1004\"");
    QVERIFY(writeLines(path, lines));
    text.clear();
    QCOMPARE(runVerifyAuditCommand({dir}, {}, {}, out), 1);
    QVERIFY2(text.contains(u"BROKEN at line 4 of "_s), qPrintable(text));
    text.clear();
    QCOMPARE(runVerifyAuditCommand({m_dir->filePath(u"nowhere"_s)}, {}, {}, out), 2);
}

QTEST_GUILESS_MAIN(TestAuditLog)
#include "tst_auditlog.moc"
