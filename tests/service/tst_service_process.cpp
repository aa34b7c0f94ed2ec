// The real medrelay-server binary under a stand-in for systemd: it announces
// READY=1 only once /health answers, pings the watchdog, says STOPPING=1
// when SIGTERM starts the drain and exits 0; and --version prints the build
// information recorded when CMake configured.

#include "ProcessSignal.h"
#include "NotifySocket.h"
#include "RawHttp.h"

#include <medrelay/BuildInfo.h>
#include <medrelay/Version.h>

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

QProcessEnvironment cleanEnv()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const QString &k : env.keys()) {
        if (k.startsWith(u"MEDRELAY_"_s) || k.startsWith(u"WS_"_s) || k == u"NODE_ENV"_s || k == u"DEBUG"_s
            || k == u"NOTIFY_SOCKET"_s || k.startsWith(u"WATCHDOG_"_s) || k == u"JOURNAL_STREAM"_s)
            env.remove(k);
    }
    return env;
}

} // namespace

class TestServiceProcess final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void notificationsAsSystemdSeesThem();
    void versionPrintsBuildInformation();
};

void TestServiceProcess::notificationsAsSystemdSeesThem()
{
    NotifySocket socket;
    QVERIFY(socket.isValid());
    QTemporaryDir dataDir;
    QProcessEnvironment env = cleanEnv();
    env.insert(u"NOTIFY_SOCKET"_s, socket.path());
    env.insert(u"WATCHDOG_USEC"_s, u"200000"_s);
    env.insert(u"MEDRELAY_DATA_DIR"_s, dataDir.path());
    QProcess server;
    server.setProcessEnvironment(env);
    server.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY),
                 {u"--port"_s, u"0"_s, u"--host"_s, u"127.0.0.1"_s, u"--env"_s, u"development"_s});
    QVERIFY(server.waitForStarted(5000));

    QTRY_COMPARE_WITH_TIMEOUT(socket.countLine("READY=1"), 1, 10000);
    // READY names the port, and the server answers on it at once.
    static const QRegularExpression statusPort(u"STATUS=listening on 127\\.0\\.0\\.1:(\\d+);"_s);
    quint16 port = 0;
    for (const QByteArray &m : socket.messages()) {
        if (m.split('\n').contains("READY=1"))
            port = statusPort.match(QString::fromUtf8(m)).captured(1).toUShort();
    }
    QVERIFY(port != 0);
    const HttpResult health = httpGet(port, "/health");
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json().value("status"_L1).toString(), u"healthy"_s);

    QTRY_VERIFY_WITH_TIMEOUT(socket.countLine("WATCHDOG=1") >= 2, 10000);

    medrelay::test::signalPid(server.processId(), SIGTERM);
    QTRY_COMPARE_WITH_TIMEOUT(socket.countLine("STOPPING=1"), 1, 10000);
    // (waitForFinished() answers false for a process that already ended)
    QVERIFY(server.state() == QProcess::NotRunning || server.waitForFinished(10000));
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
    QCOMPARE(socket.messages().constLast(), QByteArray("STATUS=stopped"));
}

void TestServiceProcess::versionPrintsBuildInformation()
{
    QProcess p;
    p.setProcessEnvironment(cleanEnv());
    p.start(QString::fromLatin1(MEDRELAY_SERVER_BINARY), {u"--version"_s});
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 0);
    const QStringList lines = QString::fromUtf8(p.readAllStandardOutput()).split(u'\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 6);
    QCOMPARE(lines.at(0), u"medrelay-server %1"_s.arg(QLatin1StringView(MEDRELAY_VERSION)));
    QCOMPARE(lines.at(1), u"commit: %1"_s.arg(QLatin1StringView(MEDRELAY_BUILD_COMMIT)));
    static const QRegularExpression commit(u"^commit: ([0-9a-f]{12}(-dirty)?|unknown)$"_s);
    QVERIFY2(commit.match(lines.at(1)).hasMatch(), qPrintable(lines.at(1)));
    QCOMPARE(lines.at(2), u"build type: %1"_s.arg(QLatin1StringView(MEDRELAY_TEST_BUILD_TYPE)));
    QCOMPARE(lines.at(3), u"compiler: %1"_s.arg(QLatin1StringView(MEDRELAY_BUILD_COMPILER)));
    QCOMPARE(lines.at(4), u"Qt: %1 (built with %2)"_s.arg(QLatin1StringView(qVersion()), QLatin1StringView(QT_VERSION_STR)));
    QVERIFY(lines.at(5).startsWith(u"systemd: yes"_s));
}

QTEST_GUILESS_MAIN(TestServiceProcess)
#include "tst_service_process.moc"
