// medrelay-audit-bench: what the audit trail costs on this machine's disk.
// Prints figures; asserts nothing. Run it on the disk that will hold the
// data directory:
//
//   build/tests/bench/medrelay-audit-bench [--dir DIR] [--records N]

#include "security/AuditFiles.h"
#include "security/AuditLog.h"
#include "security/AuditRecord.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>

#include <csignal>
#include <cstdio>

#include <sys/resource.h>

using namespace Qt::StringLiterals;
using namespace medrelay::security;

namespace {

const AuditKey kKey = AuditKey::fromSecret("benchmark-key-benchmark-key-benchmark-key-0000");

// The records of one consultation of two people, as the server writes them:
// each connects with a token, joins, leaves and disconnects.
QList<AuditEntry> consultation(int n)
{
    QList<AuditEntry> out;
    const QString room = u"appointment_%1"_s.arg(100000 + n);
    const struct
    {
        QString user;
        QString role;
    } people[] = {{u"clinician-%1"_s.arg(n % 50), u"clinician"_s}, {u"patient-%1"_s.arg(100000 + n), u"patient"_s}};
    for (const auto &p : people) {
        const QString connection = u"c%1x7k2m9q4r1"_s.arg(n % 10);
        for (const auto event : {AuditEvent::Connect, AuditEvent::Join, AuditEvent::Leave, AuditEvent::Disconnect}) {
            AuditEntry e;
            e.event = event;
            e.actor = p.user;
            e.role = p.role;
            e.connectionId = connection;
            e.address = u"203.0.113.%1"_s.arg(n % 250);
            if (event == AuditEvent::Join || event == AuditEvent::Leave) {
                e.roomId = room;
                e.appointmentId = 100000 + n;
            }
            if (event == AuditEvent::Connect)
                e.detail = u"token"_s;
            if (event == AuditEvent::Leave)
                e.detail = u"left"_s;
            out.append(e);
        }
    }
    return out;
}

qint64 residentBytes()
{
    QFile status(u"/proc/self/status"_s);
    if (!status.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').constFirst().toLongLong() * 1024;
    }
    return 0;
}

void print(const char *what, qint64 records, qint64 ns)
{
    std::printf("%-44s %8lld records %10.1f us/record %12.0f records/s\n", what, qlonglong(records),
                double(ns) / 1000.0 / double(records), double(records) * 1e9 / double(qMax<qint64>(ns, 1)));
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption dirOpt(u"dir"_s, u"Directory on the disk to measure (default: a temporary one)."_s,
                                    u"DIR"_s);
    const QCommandLineOption recordsOpt(u"records"_s, u"Records for the group-commit run (default 20000)."_s,
                                        u"N"_s, u"20000"_s);
    parser.addOption(dirOpt);
    parser.addOption(recordsOpt);
    parser.process(app);
    const int groupRecords = qMax(100, parser.value(recordsOpt).toInt());

    QTemporaryDir tmp(parser.isSet(dirOpt) ? QDir(parser.value(dirOpt)).filePath(u"audit-bench-XXXXXX"_s)
                                           : QDir::tempPath() + u"/audit-bench-XXXXXX"_s);
    if (!tmp.isValid()) {
        std::fprintf(stderr, "cannot create a directory to measure in\n");
        return 1;
    }
    std::printf("audit trail on %s\n\n", qPrintable(tmp.path()));

    // Building a line: SHA-256 chain only versus HMAC-SHA256.
    const QList<AuditEntry> sample = consultation(1);
    for (const AuditKey *key : {static_cast<const AuditKey *>(nullptr), &kKey}) {
        QElapsedTimer t;
        t.start();
        QByteArray prev = AuditRecord::kZeroHash;
        constexpr int kBuilds = 50000;
        for (int i = 0; i < kBuilds; ++i) {
            const QByteArray line = AuditRecord::build(sample.at(i % sample.size()), quint64(i + 1), prev,
                                                       u"2026-11-26T08:59:49.689Z"_s, key);
            prev = AuditRecord::lineHash(line);
        }
        print(key ? "build a record (HMAC-SHA256, keyed)" : "build a record (SHA-256, unkeyed)", kBuilds,
              t.nsecsElapsed());
    }

    AuditLogOptions options;
    options.key = kKey;
    options.rotateBytes = 0;
    {
        // One record at a time, each waiting for its own fdatasync.
        auto opened = AuditLog::open(QDir(tmp.path()).filePath(u"append"_s), options);
        if (!opened.log) {
            std::fprintf(stderr, "%s\n", qPrintable(opened.error));
            return 1;
        }
        constexpr int kAppends = 200;
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < kAppends; ++i)
            opened.log->append(sample.at(i % sample.size()));
        print("append + wait for fdatasync, one by one", kAppends, t.nsecsElapsed());
    }
    {
        // What the server does: post from the event loop, group commit.
        auto opened = AuditLog::open(QDir(tmp.path()).filePath(u"group"_s), options);
        if (!opened.log)
            return 1;
        QElapsedTimer t;
        t.start();
        qint64 postNs = 0;
        for (int i = 0; i < groupRecords; ++i) {
            QElapsedTimer p;
            p.start();
            opened.log->post(sample.at(i % sample.size()));
            postNs += p.nsecsElapsed();
        }
        opened.log->flush(120000);
        print("post() alone (the caller's cost)", groupRecords, postNs);
        print("post + group commit, until all are durable", groupRecords, t.nsecsElapsed());
    }
    {
        // What the backlog costs in memory while the disk refuses writes
        // (a file size limit fails every write, as a full disk does).
        auto opened = AuditLog::open(QDir(tmp.path()).filePath(u"backlog"_s), options);
        if (!opened.log)
            return 1;
        constexpr int kBacklog = 50000;
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit saved{};
        getrlimit(RLIMIT_FSIZE, &saved);
        rlimit full = saved;
        full.rlim_cur = 0;
        setrlimit(RLIMIT_FSIZE, &full);
        // Records with their own strings, as the server's are.
        const qint64 before = residentBytes();
        for (int n = 0, posted = 0; posted < kBacklog; ++n) {
            for (const AuditEntry &e : consultation(n)) {
                if (posted++ < kBacklog)
                    opened.log->post(e);
            }
        }
        const qint64 after = residentBytes();
        std::printf("backlog of %d records waiting for the disk: %.1f MiB resident, %.0f bytes per record\n",
                    kBacklog, double(after - before) / 1048576.0, double(after - before) / kBacklog);
        setrlimit(RLIMIT_FSIZE, &saved);
        opened.log->flush(120000);
    }
    {
        // Disk planning: bytes per record, records per consultation.
        const QString dir = QDir(tmp.path()).filePath(u"plan"_s);
        auto opened = AuditLog::open(dir, options);
        if (!opened.log)
            return 1;
        constexpr int kConsultations = 1000;
        qint64 records = 0;
        for (int n = 0; n < kConsultations; ++n) {
            for (const AuditEntry &e : consultation(n)) {
                opened.log->post(e);
                ++records;
            }
        }
        opened.log->flush(120000);
        const qint64 bytes = QFileInfo(opened.log->filePath()).size();
        std::printf("\n%d two-person consultations (connect, join, leave, disconnect each): %lld records, "
                    "%lld bytes\n%.0f bytes per record, %lld records and %.1f KiB per consultation\n",
                    kConsultations, qlonglong(records), qlonglong(bytes), double(bytes) / double(records),
                    qlonglong(records / kConsultations), double(bytes) / kConsultations / 1024.0);
    }
    return 0;
}
