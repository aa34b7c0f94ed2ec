// The audit trail of a running server: when the disk is full it keeps the
// records it cannot write in a bounded backlog, says so in /health and
// /metrics, drops (and counts) only beyond the bound, and writes everything
// once there is room again; a log whose end was cut off does not start.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include "audit/AuditRecorder.h"
#include "security/AuditFiles.h"
#include "security/AuditKeyFile.h"
#include "security/AuditVerifier.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

#include <sys/mount.h>
#include <sys/resource.h>

using namespace medrelay::test;
using namespace medrelay::server;
using namespace Qt::StringLiterals;

namespace {

// A small file system that can be filled: a 512 KiB tmpfs when this process
// may mount one (the test suite runs as root), else a per-process file size
// limit, which makes writes fail the same way (EFBIG instead of ENOSPC).
class FillableDisk final
{
public:
    FillableDisk()
    {
        m_mounted = ::mount("tmpfs", QFile::encodeName(m_dir.path()).constData(), "tmpfs", MS_NOSUID | MS_NODEV,
                            "size=512k,mode=0700") == 0;
        qInfo("filling %s", m_mounted ? "a 512 KiB tmpfs (ENOSPC)" : "up to a file size limit (EFBIG)");
    }
    ~FillableDisk()
    {
        makeRoom();
        if (m_mounted)
            ::umount2(QFile::encodeName(m_dir.path()).constData(), MNT_DETACH);
    }
    Q_DISABLE_COPY_MOVE(FillableDisk)

    [[nodiscard]] QString path(const QString &name) const { return m_dir.filePath(name); }

    // From now on no file on it can grow.
    bool fill(const QString &growingFile)
    {
        if (!m_mounted) {
            std::signal(SIGXFSZ, SIG_IGN);
            getrlimit(RLIMIT_FSIZE, &m_saved);
            rlimit l = m_saved;
            l.rlim_cur = rlim_t(QFileInfo(growingFile).size());
            m_limited = setrlimit(RLIMIT_FSIZE, &l) == 0;
            return m_limited;
        }
        QFile filler(path(u"filler"_s));
        if (!filler.open(QIODevice::WriteOnly | QIODevice::Unbuffered))
            return false;
        const QByteArray block(4096, 'x');
        while (filler.write(block) == block.size()) {
        }
        // The last page of the log may still have room for a record or two;
        // the test writes until the server reports that it is behind.
        return true;
    }

    void makeRoom()
    {
        if (m_limited)
            setrlimit(RLIMIT_FSIZE, &m_saved);
        m_limited = false;
        QFile::remove(path(u"filler"_s));
    }

private:
    QTemporaryDir m_dir;
    bool m_mounted = false;
    bool m_limited = false;
    rlimit m_saved{};
};

QJsonObject health(quint16 port)
{
    return httpGet(port, "/health").json();
}

// One connection opened and closed: a connect and a disconnect record.
void churn(const TestServer &server)
{
    TestClient c;
    QVERIFY(c.open(server.wsUrl()));
    c.close();
    QVERIFY(c.waitDisconnected());
}

int countEvents(const QString &dir, const QByteArray &event)
{
    int n = 0;
    for (const QString &file : medrelay::security::AuditFiles::chainFiles(dir)) {
        QFile f(file);
        if (!f.open(QIODevice::ReadOnly))
            return -1;
        n += int(f.readAll().count("\"event\":\"" + event + "\""));
    }
    return n;
}

medrelay::security::AuditVerifyResult verifyDir(const QString &dir)
{
    using namespace medrelay::security;
    AuditVerifyOptions o;
    if (const auto key = loadAuditKeyFile(QDir(dir).filePath(AuditFiles::kKey), false); key.key)
        o.keys.insert(key.key->id, key.key->secret);
    QFile cp(QDir(dir).filePath(AuditFiles::kCheckpoint));
    if (cp.open(QIODevice::ReadOnly)) {
        if (const auto c = AuditCheckpoint::parse(cp.readAll()))
            o.checkpoints.append(*c);
    } else {
        o.checkpointMissing = true;
    }
    return verifyAuditFiles(AuditFiles::chainFiles(dir), o);
}

} // namespace

class TestAudit final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void diskFullKeepsRecordsAndReportsIt();
    void logCutShortRefusesToStart();
};

void TestAudit::diskFullKeepsRecordsAndReportsIt()
{
    FillableDisk disk;
    const QString dataDir = disk.path(u"data"_s);
    constexpr int kBacklog = 12;
    auto server = std::make_unique<TestServer>([&](ServerConfig &c) {
        c.dataDir = dataDir;
        c.auditBacklogLimit = kBacklog;
    });
    QVERIFY2(server->started(), qPrintable(server->error()));
    int clients = 0;
    for (; clients < 3; ++clients)
        churn(*server);
    QTRY_COMPARE(server->app().connections().count(), 0);
    QVERIFY(server->app().audit()->flush());
    auto h = health(server->port());
    QCOMPARE(h.value("status"_L1).toString(), u"healthy"_s);
    QCOMPARE(h.value("audit"_L1).toObject().value("backlog"_L1).toInt(), 0);

    QVERIFY(disk.fill(server->app().audit()->filePath()));
    // Connections go on; their records wait in memory.
    while (!health(server->port()).value("audit"_L1).toObject().value("behind"_L1).toBool() && clients < 200) {
        churn(*server);
        ++clients;
        QTest::qWait(20);
    }
    h = health(server->port());
    QCOMPARE(h.value("status"_L1).toString(), u"degraded"_s);
    QVERIFY(h.value("audit"_L1).toObject().value("backlog"_L1).toInt() > 0);
    QVERIFY(h.value("audit"_L1).toObject().value("failedWrites"_L1).toInt() >= 1);
    const auto metrics = httpGet(server->port(), "/metrics");
    QVERIFY(metrics.body.contains("medrelay_audit_behind 1\n"));
    QVERIFY(metrics.body.contains("medrelay_audit_backlog_records "));
    // Everyone else is still served.
    TestClient a, b;
    QVERIFY(a.open(server->wsUrl()));
    QVERIFY(b.open(server->wsUrl()));
    a.join(u"room"_s, 1, 1, u"A"_s);
    b.join(u"room"_s, 1, 2, u"B"_s);
    a.send({{u"type"_s, u"telemedicine_chat_message"_s}, {u"roomId"_s, u"room"_s}, {u"appointmentId"_s, 1},
            {u"message"_s, u"still here"_s}});
    QVERIFY(b.waitFor(u"telemedicine_chat_message"_s));
    a.close();
    b.close();
    QVERIFY(a.waitDisconnected() && b.waitDisconnected());
    clients += 2; // and their joins and leaves

    // Past the bound, records are dropped, and counted.
    for (int i = 0; i < kBacklog; ++i, ++clients)
        churn(*server);
    QTRY_VERIFY(health(server->port()).value("audit"_L1).toObject().value("droppedRecords"_L1).toInt() > 0);
    const int dropped = health(server->port()).value("audit"_L1).toObject().value("droppedRecords"_L1).toInt();
    QVERIFY(httpGet(server->port(), "/metrics").body.contains("medrelay_audit_dropped_records_total " +
                                                               QByteArray::number(dropped) + "\n"));

    // Room again: the backlog is written in order, and the status recovers.
    disk.makeRoom();
    QTRY_COMPARE_WITH_TIMEOUT(health(server->port()).value("status"_L1).toString(), u"healthy"_s, 10000);
    churn(*server); // the gap is recorded before the next record
    ++clients;
    QTRY_COMPARE(server->app().connections().count(), 0);
    QVERIFY(server->app().audit()->flush());
    h = health(server->port());
    QCOMPARE(h.value("audit"_L1).toObject().value("backlog"_L1).toInt(), 0);
    QCOMPARE(h.value("audit"_L1).toObject().value("droppedRecords"_L1).toInt(), dropped);
    server.reset();

    const auto r = verifyDir(dataDir);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    // Every connection's two records are on disk, or counted in the gap record.
    QCOMPARE(countEvents(dataDir, "records_dropped"), 1);
    QCOMPARE(countEvents(dataDir, "connect") + countEvents(dataDir, "disconnect") + countEvents(dataDir, "join")
                 + countEvents(dataDir, "leave") + dropped,
             2 * clients + 4);
    QFile log(QDir(dataDir).filePath(medrelay::security::AuditFiles::kActive));
    QVERIFY(log.open(QIODevice::ReadOnly));
    QVERIFY(log.readAll().contains("\"detail\":\"count=" + QByteArray::number(dropped) + " first="));
}

void TestAudit::logCutShortRefusesToStart()
{
    QTemporaryDir dir;
    {
        TestServer server([&](ServerConfig &c) { c.dataDir = dir.path(); });
        QVERIFY(server.started());
        for (int i = 0; i < 3; ++i)
            churn(server);
        QTRY_COMPARE(server.app().connections().count(), 0);
    }
    const QString path = QDir(dir.path()).filePath(medrelay::security::AuditFiles::kActive);
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QList<QByteArray> lines = f.readAll().split('\n');
    f.close();
    lines.removeLast(); // after the last newline
    QCOMPARE(lines.size(), 6);
    lines.resize(4); // the last connection's records removed
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(lines.join('\n') + '\n');
    f.close();

    TestServer again([&](ServerConfig &c) { c.dataDir = dir.path(); });
    QVERIFY(!again.started());
    QVERIFY2(again.error().contains(u"removed from its end"_s), qPrintable(again.error()));

    // And the command an auditor runs says so.
    QProcess verify;
    verify.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY), {u"--verify-audit"_s, dir.path()});
    QVERIFY(verify.waitForFinished(10000));
    QCOMPARE(verify.exitCode(), 1);
    const QByteArray out = verify.readAllStandardOutput();
    QVERIFY2(out.contains("BROKEN") && out.contains("removed from its end"), out.constData());
}

QTEST_GUILESS_MAIN(TestAudit)
#include "tst_audit.moc"
