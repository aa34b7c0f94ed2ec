// kill -9 loses nothing acknowledged: a child process appends to the SQLite
// store without end and reports what its callbacks acknowledged; it is killed
// with SIGKILL mid-stream, twice, and every acknowledged message is found
// after reopening, with seq continuing where it stopped.

#include "ProcessSignal.h"
#include "StoreTestSupport.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace storetest;

namespace {

QByteArray bodyFor(qint64 seq)
{
    QByteArray body = "message " + QByteArray::number(seq);
    body.append(300 - body.size(), '.');
    return body;
}

struct ChildRun
{
    qint64 started = -1; // the lastSeq the child found
    qint64 acked = 0;    // the highest "acked N" it printed
    QString problem;
};

// Starts the child, kills it with SIGKILL as soon as it has acknowledged
// `moreThan` messages beyond where it started, and reports what it printed.
ChildRun runAndKill(const QString &dir, const QByteArray &key, qint64 moreThan)
{
    ChildRun run;
    QProcess child;
    QByteArray out;
    const QRegularExpression acked(u"^acked (\\d+)$"_s);
    const QRegularExpression start(u"^start (\\d+)$"_s);
    auto parse = [&] {
        out += child.readAllStandardOutput();
        qsizetype nl;
        while ((nl = out.indexOf('\n')) >= 0) {
            const QString line = QString::fromUtf8(out.first(nl));
            out.remove(0, nl + 1);
            if (auto m = acked.match(line); m.hasMatch())
                run.acked = std::max(run.acked, m.captured(1).toLongLong());
            else if (auto s = start.match(line); s.hasMatch())
                run.started = s.captured(1).toLongLong();
            else
                run.problem = line;
        }
        if (run.started >= 0 && run.acked >= run.started + moreThan && child.state() == QProcess::Running)
            medrelay::test::signalPid(child.processId(), SIGKILL);
    };
    QObject::connect(&child, &QProcess::readyReadStandardOutput, &child, parse);
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QString::fromLocal8Bit(STORE_DURABILITY_CHILD), {dir, QString::fromLatin1(key.toHex()), u"room-k9"_s});
    if (!child.waitForStarted(10'000)) {
        run.problem = u"child did not start: "_s + child.errorString();
        return run;
    }
    if (!child.waitForFinished(30'000)) {
        child.kill();
        child.waitForFinished(5000);
        run.problem = u"child was not killed in time; acked %1"_s.arg(run.acked);
        return run;
    }
    parse(); // whatever it printed before it died
    if (run.problem.isEmpty() && child.exitStatus() != QProcess::CrashExit)
        run.problem = u"child exited by itself with code %1"_s.arg(child.exitCode());
    return run;
}

} // namespace

class TestHistoryDurability final : public QObject
{
    Q_OBJECT

private slots:
    void killedWriterLosesNothingAcknowledged();
};

void TestHistoryDurability::killedWriterLosesNothingAcknowledged()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QByteArray key = testKey();
    TestClock clock = makeClock();
    StoreSetup setup;
    setup.limits.maxMessagesPerRoom = 1'000'000;
    setup.limits.maxAgeMs = 0; // the child writes real times; keep them all
    QObject ctx;

    qint64 lastSeq = 0;
    for (int round = 0; round < 2; ++round) {
        const ChildRun run = runAndKill(dir.path(), key, 300);
        QVERIFY2(run.problem.isEmpty(), qPrintable(run.problem));
        QCOMPARE(run.started, lastSeq); // it continued exactly where the last one stopped
        QVERIFY(run.acked >= lastSeq + 300);

        auto store = openSqlite(dir.path(), clock, setup);
        QVERIFY(store);
        const ReadResult r = read(*store, &ctx, u"room-k9"_s, 0, std::numeric_limits<qint64>::max(), 1'000'000);
        QVERIFY2(r.ok, qPrintable(r.error));
        // Every acknowledged message is there, in order, unaltered; what was
        // committed but not yet acknowledged may be there too.
        QVERIFY(r.lastSeq >= run.acked);
        QCOMPARE(r.messages.size(), qsizetype(r.lastSeq));
        for (qint64 seq = 1; seq <= r.lastSeq; ++seq) {
            const StoredMessage &m = r.messages.at(seq - 1);
            QCOMPARE(m.seq, seq);
            QCOMPARE(m.body, bodyFor(seq));
        }
        qInfo("round %d: the child started at %lld, was killed after acknowledging %lld; %lld found", round,
              run.started, run.acked, r.lastSeq);
        lastSeq = r.lastSeq;
    }

    auto store = openSqlite(dir.path(), clock, setup);
    QVERIFY(store);
    QCOMPARE(append(*store, &ctx, message(u"room-k9"_s, MessageClass::Chat, "after")).seq, lastSeq + 1);
}

QTEST_GUILESS_MAIN(TestHistoryDurability)
#include "tst_historydurability.moc"
