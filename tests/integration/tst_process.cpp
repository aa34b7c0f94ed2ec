// The real medrelay-server executable: command line, start-up errors,
// environment, and graceful shutdown on SIGTERM/SIGINT.

#include "ProcessSignal.h"
#include "RawHttp.h"
#include "TestClient.h"

#include "adminapi/AdminTypes.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

struct Running
{
    std::unique_ptr<QTemporaryDir> dataDir; // each server its own audit log
    std::unique_ptr<QProcess> process;
    quint16 port = 0;
    QString log; // stderr read so far
};

Running startServer(const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    Running r;
    r.dataDir = std::make_unique<QTemporaryDir>();
    QProcessEnvironment withData = env;
    if (!withData.contains(u"MEDRELAY_DATA_DIR"_s))
        withData.insert(u"MEDRELAY_DATA_DIR"_s, r.dataDir->path());
    r.process = std::make_unique<QProcess>();
    r.process->setProcessEnvironment(withData);
    r.process->start(QString::fromLatin1(MEDRELAY_SERVER_BINARY), args);
    if (!r.process->waitForStarted(5000))
        return r;
    QByteArray out;
    QElapsedTimer t;
    t.start();
    static const QRegularExpression re(u"listening on .*:(\\d+)"_s);
    while (t.elapsed() < 5000) {
        r.process->waitForReadyRead(100);
        out += r.process->readAllStandardOutput();
        const auto m = re.match(QString::fromUtf8(out));
        if (m.hasMatch()) {
            r.port = m.captured(1).toUShort();
            break;
        }
        if (r.process->state() != QProcess::Running)
            break;
    }
    return r;
}

struct Exit
{
    int code = -1;
    QString stdErr;
    QString stdOut;
};

Exit runToExit(const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY), args);
    if (!p.waitForFinished(10000)) {
        p.kill();
        p.waitForFinished();
        return {};
    }
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardError()), QString::fromUtf8(p.readAllStandardOutput())};
}

// Waits for the process to end with this process's event loop running, so
// the test's own clients keep answering the server meanwhile.
bool waitExit(QProcess &p, int ms)
{
    return QTest::qWaitFor([&p] { return p.state() == QProcess::NotRunning; }, ms);
}

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

QProcessEnvironment cleanEnv()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s)
            env.remove(k);
    }
    return env;
}

} // namespace

class TestProcess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void helpAndVersion();
    void invalidConfigurationStops_data();
    void invalidConfigurationStops();
    void environmentSetsPortAndHost();
    void sigtermDrainsAndClosesWith1001();
    void drainTimeoutEndsAStuckDrain();
    void promptExitWhenEveryoneLeaves();
    void secondSignalExitsAtOnce();
};

void TestProcess::helpAndVersion()
{
    const Exit help = runToExit({u"--help"_s}, cleanEnv());
    QCOMPARE(help.code, 0);
    for (const char *opt : {"--port", "--host", "--env", "--config", "--max-message-size", "--rate-limit",
                            "--send-queue-limit", "--ping-interval", "--drain-timeout", "WS_PORT", "WS_HOST"})
        QVERIFY2(help.stdOut.contains(QLatin1StringView(opt)), opt);
    const Exit version = runToExit({u"--version"_s}, cleanEnv());
    QCOMPARE(version.code, 0);
    QVERIFY(version.stdOut.startsWith(u"medrelay-server "_s));
}

void TestProcess::invalidConfigurationStops_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("envName");
    QTest::addColumn<QString>("envValue");
    QTest::addColumn<QString>("names");
    QTest::addRow("port too large") << QStringList{u"--port"_s, u"70000"_s} << QString() << QString() << u"--port"_s;
    QTest::addRow("unknown mode") << QStringList{u"--env"_s, u"staging"_s} << QString() << QString() << u"--env"_s;
    QTest::addRow("bad WS_PORT") << QStringList{} << u"WS_PORT"_s << u"abc"_s << u"WS_PORT"_s;
    QTest::addRow("bad NODE_ENV") << QStringList{} << u"NODE_ENV"_s << u"qa"_s << u"NODE_ENV"_s;
    QTest::addRow("bad host") << QStringList{u"--host"_s, u"not a host"_s} << QString() << QString() << u"--host"_s;
    QTest::addRow("unknown option") << QStringList{u"--frobnicate"_s} << QString() << QString() << u"frobnicate"_s;
    QTest::addRow("missing config file") << QStringList{u"--config"_s, u"/nonexistent/medrelay.ini"_s} << QString()
                                         << QString() << u"config"_s;
    QTest::addRow("negative rate") << QStringList{u"--rate-limit"_s, u"-1"_s} << QString() << QString()
                                   << u"--rate-limit"_s;
}

void TestProcess::invalidConfigurationStops()
{
    QFETCH(QStringList, args);
    QFETCH(QString, envName);
    QFETCH(QString, envValue);
    QFETCH(QString, names);
    QProcessEnvironment env = cleanEnv();
    if (!envName.isEmpty())
        env.insert(envName, envValue);
    const Exit e = runToExit(args, env);
    QCOMPARE(e.code, 2);
    const QStringList lines = e.stdErr.trimmed().split(u'\n');
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines.first().contains(names), qPrintable(lines.first()));
}

void TestProcess::environmentSetsPortAndHost()
{
    QProcessEnvironment env = cleanEnv();
    const quint16 port = freePort();
    env.insert(u"WS_PORT"_s, QString::number(port));
    env.insert(u"WS_HOST"_s, u"127.0.0.1"_s);
    Running r = startServer({}, env);
    QCOMPARE(r.port, port);
    const auto health = httpGet(port, "/health");
    QCOMPARE(health.status, 200);
    // The command line beats the environment.
    Running r2 = startServer({u"--port"_s, u"0"_s}, env);
    QVERIFY(r2.port != 0 && r2.port != port);
    r.process->kill();
    r2.process->kill();
    r.process->waitForFinished();
    r2.process->waitForFinished();
}

namespace {

// Everything the server has written to stderr so far (its log).
QString serverLog(Running &r)
{
    r.log += QString::fromUtf8(r.process->readAllStandardError());
    return r.log;
}

bool logContains(Running &r, const QString &needle)
{
    return serverLog(r).contains(needle);
}

// Generous guards against a hang, never expected to run out: a drain in
// these tests ends through the event under test.
constexpr int kGuardMs = 60000;

// Waits, with the event loop running, until the log contains `needle`.
bool waitForLog(Running &r, const QString &needle)
{
    return QTest::qWaitFor([&] { return logContains(r, needle); }, kGuardMs);
}

qint64 messagesOfType(quint16 port, const QString &type)
{
    const auto stats = medrelay::adminapi::Stats::fromJson(httpGet(port, "/stats").json());
    return stats ? stats->messagesByType.value(type) : -1;
}

// A client that stops reading while megabytes are queued for it: it never
// answers the server's close frame, so the drain cannot end through it before
// the server gives up on it.
std::unique_ptr<QTcpSocket> stuckClient(quint16 port, TestClient &feeder)
{
    auto stuck = rawWebSocket(port);
    if (!stuck)
        return nullptr;
    stuck->write(clientTextFrame(R"({"type":"telemedicine_user_joined","roomId":"r","appointmentId":1,"userId":9})"));
    stuck->flush();
    // Its room_state has arrived: it is in the room. From now on it reads
    // nothing more.
    if (!QTest::qWaitFor([&] { return stuck->bytesAvailable() > 0 || stuck->waitForReadyRead(50); }, 10000))
        return nullptr;
    stuck->setReadBufferSize(1);
    feeder.join(u"r"_s, 1, 1, u"Feeder"_s);
    const QString big(400 * 1024, u'x');
    for (int i = 0; i < 40; ++i)
        feeder.send({{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, u"r"_s}, {u"data"_s, big}});
    // The server has taken all 40 (16 MB for a client that reads nothing).
    if (!QTest::qWaitFor([&] { return messagesOfType(port, u"whiteboard_update"_s) == 40; }, 30000))
        return nullptr;
    return stuck;
}

const QStringList kStuckArgs = {u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--rate-limit"_s, u"0"_s,
                                u"--max-message-size"_s, u"1048576"_s, u"--send-queue-limit"_s, u"67108864"_s};

// How a drain ended, as the server logs it.
const QString kAllClosed = u"all connections closed"_s;
const QString kDrainTimedOut = u"drain timeout reached"_s;

} // namespace

void TestProcess::sigtermDrainsAndClosesWith1001()
{
    Running r = startServer(kStuckArgs + QStringList{u"--drain-timeout"_s, u"600"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient polite;
    QVERIFY(polite.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    auto stuck = stuckClient(r.port, polite);
    QVERIFY(stuck);
    QVERIFY(!logContains(r, u"draining"_s));

    medrelay::test::signalPid(r.process->processId(), SIGTERM);
    QVERIFY(waitForLog(r, u"draining: 2 connection(s)"_s));
    QVERIFY(polite.waitDisconnected(kGuardMs));
    QCOMPARE(polite.closeCode(), 1001);

    // The polite client is gone; the stuck one still holds the drain open,
    // and meanwhile the server answers health checks and refuses newcomers.
    const auto health = httpGet(r.port, "/health");
    QCOMPARE(health.status, 503);
    QCOMPARE(health.json().value("status"_L1).toString(), u"draining"_s);
    const auto late = rawHttp(r.port, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n\r\n",
                              kGuardMs);
    QCOMPARE(late.status, 503);
    QCOMPARE(late.json().value("error"_L1).toObject().value("code"_L1).toString(), u"server_draining"_s);

    // The drain ends when the stuck client's connection closes (the server
    // gives up on its close handshake), long before the drain timeout.
    QVERIFY(waitExit(*r.process, kGuardMs));
    QCOMPARE(r.process->exitStatus(), QProcess::NormalExit);
    QCOMPARE(r.process->exitCode(), 0);
    QVERIFY2(logContains(r, kAllClosed), qPrintable(serverLog(r)));
    QVERIFY2(!logContains(r, kDrainTimedOut), qPrintable(serverLog(r)));
}

void TestProcess::drainTimeoutEndsAStuckDrain()
{
    // A drain timeout (1 s) shorter than the close handshake the server
    // grants a client (2 s): the timeout ends the drain with the stuck client
    // still connected.
    Running r = startServer(kStuckArgs + QStringList{u"--drain-timeout"_s, u"1"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient feeder;
    QVERIFY(feeder.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    auto stuck = stuckClient(r.port, feeder);
    QVERIFY(stuck);
    medrelay::test::signalPid(r.process->processId(), SIGTERM);
    QVERIFY(feeder.waitDisconnected(kGuardMs));
    QCOMPARE(feeder.closeCode(), 1001);
    QVERIFY(waitExit(*r.process, kGuardMs));
    QCOMPARE(r.process->exitStatus(), QProcess::NormalExit);
    QCOMPARE(r.process->exitCode(), 0);
    // The timeout ended the drain while the stuck client was still connected
    // (the feeder, which answered its close, may or may not have been gone).
    static const QRegularExpression timedOut(u"drain timeout reached with (\\d+) connection\\(s\\) open"_s);
    const auto m = timedOut.match(serverLog(r));
    QVERIFY2(m.hasMatch(), qPrintable(serverLog(r)));
    QVERIFY(m.captured(1).toInt() >= 1);
    QVERIFY2(!logContains(r, kAllClosed), qPrintable(serverLog(r)));
}

void TestProcess::promptExitWhenEveryoneLeaves()
{
    Running r = startServer({u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--drain-timeout"_s, u"600"_s},
                            cleanEnv());
    QVERIFY(r.port);
    TestClient a, b;
    QVERIFY(a.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    QVERIFY(b.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    medrelay::test::signalPid(r.process->processId(), SIGINT);
    QVERIFY(a.waitDisconnected(kGuardMs));
    QVERIFY(b.waitDisconnected(kGuardMs));
    QCOMPARE(a.closeCode(), 1001);
    QCOMPARE(b.closeCode(), 1001);
    // It exits because both closed, not because the 10-minute timeout ran out.
    QVERIFY(waitExit(*r.process, kGuardMs));
    QCOMPARE(r.process->exitCode(), 0);
    QVERIFY2(logContains(r, kAllClosed), qPrintable(serverLog(r)));
    QVERIFY2(!logContains(r, kDrainTimedOut), qPrintable(serverLog(r)));
}

void TestProcess::secondSignalExitsAtOnce()
{
    Running r = startServer(kStuckArgs + QStringList{u"--drain-timeout"_s, u"600"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient feeder;
    QVERIFY(feeder.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    auto stuck = stuckClient(r.port, feeder);
    QVERIFY(stuck);
    const auto pid = static_cast<pid_t>(r.process->processId());
    medrelay::test::signalPid(pid, SIGTERM);
    QVERIFY(waitForLog(r, u"draining:"_s));
    medrelay::test::signalPid(pid, SIGTERM);
    QVERIFY(waitExit(*r.process, kGuardMs));
    // Exit status 1 and the message: the second signal ended it, not the
    // drain (which exits 0).
    QCOMPARE(r.process->exitCode(), 1);
    QVERIFY2(logContains(r, u"second signal, exiting now"_s), qPrintable(serverLog(r)));
    QVERIFY2(!logContains(r, kAllClosed), qPrintable(serverLog(r)));
}

QTEST_GUILESS_MAIN(TestProcess)
#include "tst_process.moc"
