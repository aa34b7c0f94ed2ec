// SystemdNotifier against a notification socket the test owns (what systemd
// gives a Type=notify service): READY=1 once, after the server listens;
// STATUS= lines; STOPPING=1 once with the drain's extension; WATCHDOG=1 at
// half WATCHDOG_USEC, and only for this process.

#include "NotifySocket.h"
#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include "service/ServiceController.h"
#include "service/SystemdNotifier.h"

#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>

#include <unistd.h>

using namespace medrelay;
using namespace medrelay::service;
using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

server::ServerConfig config(int drainMs)
{
    server::ServerConfig c = testConfig();
    c.drainTimeoutMs = drainMs;
    return c;
}

QByteArray lineStarting(const QByteArray &message, const QByteArray &prefix)
{
    for (const QByteArray &line : message.split('\n')) {
        if (line.startsWith(prefix))
            return line;
    }
    return {};
}

} // namespace

class TestSystemdNotifier final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void readyOnceAfterListening();
    void stoppingOnceWithTheDrainExtension();
    void watchdogPingsAtHalfTheInterval();
    void watchdogMeantForAnotherProcessIsIgnored();
    void withoutSystemdNothingIsSent();
};

void TestSystemdNotifier::init()
{
    QVERIFY(SystemdNotifier::supported());
    qunsetenv("NOTIFY_SOCKET");
    qunsetenv("WATCHDOG_USEC");
    qunsetenv("WATCHDOG_PID");
}

void TestSystemdNotifier::cleanup()
{
    init();
}

void TestSystemdNotifier::readyOnceAfterListening()
{
    NotifySocket socket;
    QVERIFY(socket.isValid());
    qputenv("NOTIFY_SOCKET", socket.path().toLocal8Bit());
    server::ServerApp app(config(2000));
    ServiceController controller(app);
    controller.setIntervals(30, 30);
    SystemdNotifier notifier;
    controller.addReporter(&notifier);
    QCOMPARE(controller.start(), QString());

    QTRY_COMPARE(socket.countLine("READY=1"), 1);
    QByteArray ready;
    for (const QByteArray &m : socket.messages()) {
        if (m.split('\n').contains("READY=1"))
            ready = m;
    }
    QCOMPARE(socket.messages().constFirst(), QByteArray("STATUS=starting"));
    const QByteArray status = lineStarting(ready, "STATUS=");
    QCOMPARE(status, "STATUS=listening on 127.0.0.1:" + QByteArray::number(app.port()) + "; 0 connection(s), 0 room(s)");

    // The running status refreshes; READY is not repeated.
    TestClient client;
    QVERIFY(client.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(app.port()))));
    QTRY_VERIFY(lineStarting(socket.messages().constLast(), "STATUS=").endsWith("; 1 connection(s), 0 room(s)"));
    controller.control(ServiceControl::Interrogate);
    QCOMPARE(socket.countLine("READY=1"), 1);
}

void TestSystemdNotifier::stoppingOnceWithTheDrainExtension()
{
    NotifySocket socket;
    qputenv("NOTIFY_SOCKET", socket.path().toLocal8Bit());
    server::ServerApp app(config(600));
    ServiceController controller(app);
    controller.setIntervals(10000, 50);
    SystemdNotifier notifier;
    controller.addReporter(&notifier);
    QCOMPARE(controller.start(), QString());
    auto silent = rawWebSocket(app.port()); // holds the drain until its timeout
    QVERIFY(silent);
    QTRY_COMPARE(app.connections().count(), 1);
    QSignalSpy finished(&controller, &ServiceController::finished);

    controller.control(ServiceControl::Stop);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QTRY_VERIFY(socket.messages().constLast() == "STATUS=stopped");
    QCOMPARE(socket.countLine("STOPPING=1"), 1);
    QByteArray stopping;
    int drainingStatuses = 0;
    for (const QByteArray &m : socket.messages()) {
        if (m.split('\n').contains("STOPPING=1"))
            stopping = m;
        if (lineStarting(m, "STATUS=").startsWith("STATUS=draining: "))
            ++drainingStatuses;
    }
    QCOMPARE(lineStarting(stopping, "EXTEND_TIMEOUT_USEC="),
             "EXTEND_TIMEOUT_USEC=" + QByteArray::number((600 + ServiceController::kStopMarginMs) * 1000LL));
    QCOMPARE(lineStarting(stopping, "STATUS="), QByteArray("STATUS=draining: 1 connection(s) left"));
    QVERIFY2(drainingStatuses >= 2, "no progress while the drain was held");
}

void TestSystemdNotifier::watchdogPingsAtHalfTheInterval()
{
    NotifySocket socket;
    qputenv("NOTIFY_SOCKET", socket.path().toLocal8Bit());
    qputenv("WATCHDOG_USEC", "100000");
    qputenv("WATCHDOG_PID", QByteArray::number(::getpid()));
    SystemdNotifier notifier;
    QCOMPARE(notifier.watchdogIntervalMs(), 50);
    QTRY_VERIFY_WITH_TIMEOUT(socket.countLine("WATCHDOG=1") >= 3, 5000);

    ServiceStatus stopped;
    stopped.state = ServiceState::Stopped;
    stopped.text = u"stopped"_s;
    notifier.report(stopped);
    QCOMPARE(notifier.watchdogIntervalMs(), 0);
}

void TestSystemdNotifier::watchdogMeantForAnotherProcessIsIgnored()
{
    qputenv("WATCHDOG_USEC", "100000");
    qputenv("WATCHDOG_PID", QByteArray::number(::getpid() + 1));
    SystemdNotifier notifier;
    QCOMPARE(notifier.watchdogIntervalMs(), 0);
}

void TestSystemdNotifier::withoutSystemdNothingIsSent()
{
    NotifySocket socket; // exists, but nobody names it
    server::ServerApp app(config(500));
    ServiceController controller(app);
    SystemdNotifier notifier;
    QCOMPARE(notifier.watchdogIntervalMs(), 0);
    controller.addReporter(&notifier);
    QCOMPARE(controller.start(), QString());
    QSignalSpy finished(&controller, &ServiceController::finished);
    controller.control(ServiceControl::Stop);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QVERIFY(socket.messages().isEmpty());
}

QTEST_GUILESS_MAIN(TestSystemdNotifier)
#include "tst_systemdnotifier.moc"
