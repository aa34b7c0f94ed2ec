// AuditLog: the chain is written, verified, continued after a restart, and any
// edit, deletion, reordering or torn write is found and named by line.

#include "security/AuditLog.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <sys/stat.h>

#include <thread>

using namespace Qt::StringLiterals;
using medrelay::security::AuditEntry;
using medrelay::security::AuditEvent;
using medrelay::security::AuditLog;

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
    void appendRate();
    void postedRecordsAreChained();
    void destructorWritesQueue();
    void groupCommitRate();

private:
    QString writeRecords(int n);
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
    const auto r = AuditLog::verify(path);
    QVERIFY2(r.ok, qPrintable(r.reason));
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
    const auto r = AuditLog::verify(path);
    QVERIFY(!r.ok);
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
    const auto r = AuditLog::verify(path);
    QVERIFY(!r.ok);
    QCOMPARE(r.badLine, 3);
    QVERIFY2(r.reason.contains(u"prev"_s), qPrintable(r.reason));
}

void TestAuditLog::deletedRecordCaught()
{
    const QString path = writeRecords(6);
    QList<QByteArray> lines = readLines(path);
    lines.removeAt(2);
    QVERIFY(writeLines(path, lines));
    const auto r = AuditLog::verify(path);
    QVERIFY(!r.ok);
    QCOMPARE(r.badLine, 3);
    QVERIFY2(r.reason.contains(u"seq"_s), qPrintable(r.reason));

    // Deleting the first record is caught too.
    lines.removeFirst();
    QVERIFY(writeLines(path, lines));
    const auto first = AuditLog::verify(path);
    QVERIFY(!first.ok);
    QCOMPARE(first.badLine, 1);
}

void TestAuditLog::swappedRecordsCaught()
{
    const QString path = writeRecords(6);
    QList<QByteArray> lines = readLines(path);
    lines.swapItemsAt(1, 2);
    QVERIFY(writeLines(path, lines));
    const auto r = AuditLog::verify(path);
    QVERIFY(!r.ok);
    QCOMPARE(r.badLine, 2);
}

void TestAuditLog::tornLastLineCaught()
{
    const QString path = writeRecords(4);
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadWrite));
    QVERIFY(f.resize(f.size() - 10));
    f.close();
    const auto r = AuditLog::verify(path);
    QVERIFY(!r.ok);
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
    const auto r = AuditLog::verify(path);
    QVERIFY2(r.ok, qPrintable(r.reason));
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
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s), AuditLog::OpenMode::StartNewFileIfBroken);
    QVERIFY2(opened.log, qPrintable(opened.error));
    QVERIFY(!opened.movedAside.isEmpty());
    QVERIFY(QFile::exists(opened.movedAside));
    QCOMPARE(opened.log->lastSeq(), 0u);
    QVERIFY(opened.log->append(entry(AuditEvent::Connect, 0)));
    const auto r = AuditLog::verify(path);
    QVERIFY2(r.ok, qPrintable(r.reason));
    QCOMPARE(r.records, 1);
    QVERIFY(!AuditLog::verify(opened.movedAside).ok);
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
    QVERIFY(AuditLog::verify(opened.log->filePath()).ok);

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
    QCOMPARE(medrelay::security::runVerifyAuditCommand(path, out), 0);
    QVERIFY2(text.contains(u"OK, 3 records"_s), qPrintable(text));
    QCOMPARE(text.count(u'\n'), 1);

    QList<QByteArray> lines = readLines(path);
    lines[1].replace("clinician", "patient");
    QVERIFY(writeLines(path, lines));
    text.clear();
    QCOMPARE(medrelay::security::runVerifyAuditCommand(path, out), 1);
    QVERIFY2(text.contains(u"BROKEN at line 2"_s), qPrintable(text));
    QCOMPARE(text.count(u'\n'), 1);

    text.clear();
    QCOMPARE(medrelay::security::runVerifyAuditCommand(m_dir->filePath(u"nope.jsonl"_s), out), 2);
    QVERIFY(text.contains(u"cannot read"_s));

    // An empty file is an intact, empty chain.
    QFile empty(m_dir->filePath(u"empty.jsonl"_s));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    text.clear();
    QCOMPARE(medrelay::security::runVerifyAuditCommand(empty.fileName(), out), 0);
}

void TestAuditLog::appendRate()
{
    // Not a pass/fail figure: shows what one fdatasync per record costs here.
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(opened.log);
    constexpr int kRecords = 200;
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < kRecords; ++i)
        QVERIFY(opened.log->append(entry(AuditEvent::Join, i)));
    const qint64 us = t.nsecsElapsed() / 1000;
    qInfo("audit append with fdatasync: %d records in %lld us, %.1f us/record, %.0f records/s", kRecords, us,
          double(us) / kRecords, kRecords * 1e6 / double(qMax<qint64>(us, 1)));
    QVERIFY(AuditLog::verify(opened.log->filePath()).ok);
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
    QCOMPARE(log->failedRecords(), 0u);
    QCOMPARE(log->lastSeq(), 416u);
    const auto r = AuditLog::verify(log->filePath());
    QVERIFY2(r.ok, qPrintable(r.reason));
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
    const auto r = AuditLog::verify(path);
    QVERIFY2(r.ok, qPrintable(r.reason));
    QCOMPARE(r.records, 50);
}

void TestAuditLog::groupCommitRate()
{
    auto opened = AuditLog::open(m_dir->filePath(u"data"_s));
    QVERIFY(opened.log);
    constexpr int kRecords = 2000;
    QElapsedTimer t;
    t.start();
    qint64 postNs = 0;
    for (int i = 0; i < kRecords; ++i) {
        QElapsedTimer p;
        p.start();
        opened.log->post(entry(AuditEvent::Join, i));
        postNs += p.nsecsElapsed();
    }
    QVERIFY(opened.log->flush(30000));
    const qint64 us = t.nsecsElapsed() / 1000;
    qInfo("audit post + group commit: %d records in %lld us (%.0f records/s), post() %.1f us/record", kRecords,
          us, kRecords * 1e6 / double(qMax<qint64>(us, 1)), double(postNs) / 1000.0 / kRecords);
    QVERIFY(AuditLog::verify(opened.log->filePath()).ok);
}

QTEST_GUILESS_MAIN(TestAuditLog)
#include "tst_auditlog.moc"
