// The real medrelay-server executable: command line, start-up errors,
// environment, and graceful shutdown on SIGTERM/SIGINT.

#include "RawHttp.h"
#include "TestClient.h"

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

// QProcess::waitForFinished() answers false for a process that already ended.
bool waitExit(QProcess &p, int ms)
{
    return p.state() == QProcess::NotRunning || p.waitForFinished(ms);
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

// A client that stops reading while megabytes are queued for it: its socket
// cannot finish closing, so the drain lasts until the drain timeout.
std::unique_ptr<QTcpSocket> stuckClient(quint16 port, TestClient &feeder)
{
    auto stuck = rawWebSocket(port);
    if (!stuck)
        return nullptr;
    stuck->write(clientTextFrame(R"({"type":"telemedicine_user_joined","roomId":"r","appointmentId":1,"userId":9})"));
    stuck->flush();
    QTest::qWait(200);
    stuck->setReadBufferSize(1);
    feeder.join(u"r"_s, 1, 1, u"Feeder"_s);
    const QString big(400 * 1024, u'x');
    for (int i = 0; i < 40; ++i)
        feeder.send({{u"type"_s, u"whiteboard_update"_s}, {u"roomId"_s, u"r"_s}, {u"data"_s, big}});
    QTest::qWait(500);
    return stuck;
}

const QStringList kStuckArgs = {u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--rate-limit"_s, u"0"_s,
                                u"--max-message-size"_s, u"1048576"_s, u"--send-queue-limit"_s, u"67108864"_s};

} // namespace

void TestProcess::sigtermDrainsAndClosesWith1001()
{
    Running r = startServer(kStuckArgs + QStringList{u"--drain-timeout"_s, u"2"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient polite;
    QVERIFY(polite.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    auto stuck = stuckClient(r.port, polite);
    QVERIFY(stuck);

    QElapsedTimer t;
    t.start();
    ::kill(static_cast<pid_t>(r.process->processId()), SIGTERM);
    QVERIFY(polite.waitDisconnected(3000));
    QCOMPARE(polite.closeCode(), 1001);

    const auto health = httpGet(r.port, "/health");
    QCOMPARE(health.status, 503);
    QCOMPARE(health.json().value("status"_L1).toString(), u"draining"_s);
    TestClient late;
    QVERIFY(!late.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port)), 1000));

    QVERIFY(waitExit(*r.process, 5000));
    QCOMPARE(r.process->exitStatus(), QProcess::NormalExit);
    QCOMPARE(r.process->exitCode(), 0);
    QVERIFY2(t.elapsed() < 4000, qPrintable(QString::number(t.elapsed())));
    QVERIFY(t.elapsed() >= 1500); // it waited for the stuck client, up to the drain timeout
}

void TestProcess::promptExitWhenEveryoneLeaves()
{
    Running r = startServer({u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--drain-timeout"_s, u"30"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient a, b;
    QVERIFY(a.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    QVERIFY(b.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    QElapsedTimer t;
    t.start();
    ::kill(static_cast<pid_t>(r.process->processId()), SIGINT);
    QVERIFY(a.waitDisconnected(3000));
    QVERIFY(b.waitDisconnected(3000));
    QCOMPARE(a.closeCode(), 1001);
    QCOMPARE(b.closeCode(), 1001);
    QVERIFY(waitExit(*r.process, 5000));
    QCOMPARE(r.process->exitCode(), 0);
    QVERIFY(t.elapsed() < 5000); // far below the 30 s drain timeout
}

void TestProcess::secondSignalExitsAtOnce()
{
    Running r = startServer(kStuckArgs + QStringList{u"--drain-timeout"_s, u"30"_s}, cleanEnv());
    QVERIFY(r.port);
    TestClient feeder;
    QVERIFY(feeder.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(r.port))));
    auto stuck = stuckClient(r.port, feeder);
    QVERIFY(stuck);
    const auto pid = static_cast<pid_t>(r.process->processId());
    ::kill(pid, SIGTERM);
    QTest::qWait(500);
    QCOMPARE(r.process->state(), QProcess::Running); // still draining
    QElapsedTimer t;
    t.start();
    ::kill(pid, SIGTERM);
    QVERIFY(waitExit(*r.process, 3000));
    QVERIFY(t.elapsed() < 2000);
    QCOMPARE(r.process->exitCode(), 1);
}

QTEST_GUILESS_MAIN(TestProcess)
#include "tst_process.moc"
