// ServiceController, the platform-neutral part of running medrelay as a
// service (systemd, the Windows service control manager, launchd): what it
// reports and when, and how stop/shutdown/interrogate requests reach a real
// ServerApp listening on loopback.

#include "RawHttp.h"
#include "TestClient.h"
#include "TestServer.h"

#include "service/ServiceController.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

Q_DECLARE_METATYPE(medrelay::service::ServiceControl)

using namespace medrelay;
using namespace medrelay::service;
using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

// Records every status, and whether the server accepted a TCP connection
// at the moment Running was reported.
class Recorder final : public ServiceStatusReporter
{
public:
    explicit Recorder(server::ServerApp &server)
        : m_server(server)
    {
    }

    void report(const ServiceStatus &status) override
    {
        statuses.append(status);
        if (status.state == ServiceState::Running && !checkedListening) {
            checkedListening = true;
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, m_server.port());
            listeningWhenRunning = probe.waitForConnected(2000);
        }
        if (status.state == ServiceState::Stopping)
            drainingWhenStopping = m_server.isDraining();
    }

    [[nodiscard]] QList<ServiceState> states() const
    {
        QList<ServiceState> out;
        for (const ServiceStatus &s : statuses) {
            if (out.isEmpty() || out.constLast() != s.state)
                out.append(s.state);
        }
        return out;
    }
    [[nodiscard]] qsizetype count(ServiceState state) const
    {
        return std::count_if(statuses.cbegin(), statuses.cend(), [state](const ServiceStatus &s) { return s.state == state; });
    }

    QList<ServiceStatus> statuses;
    bool checkedListening = false;
    bool listeningWhenRunning = false;
    bool drainingWhenStopping = false;

private:
    server::ServerApp &m_server;
};

server::ServerConfig config(int drainMs = 2000)
{
    server::ServerConfig c = testConfig();
    c.drainTimeoutMs = drainMs;
    return c;
}

} // namespace

class TestServiceController final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startReportsRunningOnceListening();
    void startFailureReportsStoppedWithExitCode();
    void stopDrainsThenReportsStopped_data();
    void stopDrainsThenReportsStopped();
    void stopBeforeStartChangesNothing();
    void secondStopIsIgnored();
    void interrogateRepeatsTheCurrentStatus();
    void lateReporterGetsTheCurrentStatus();
    void runningStatusFollowsTheLoad();
    void progressWhileClientsHoldTheDrain();
    void drainStartedElsewhereIsReported();
};

void TestServiceController::startReportsRunningOnceListening()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());

    QCOMPARE(recorder.states(), (QList<ServiceState>{ServiceState::Starting, ServiceState::Running}));
    const ServiceStatus &starting = recorder.statuses.at(1);
    QCOMPARE(starting.state, ServiceState::Starting);
    QCOMPARE(starting.waitHintMs, ServiceController::kStartWaitHintMs);
    QVERIFY(recorder.listeningWhenRunning);
    const ServiceStatus &running = recorder.statuses.constLast();
    QCOMPARE(running.waitHintMs, 0);
    QCOMPARE(running.text, u"listening on 127.0.0.1:%1; 0 connection(s), 0 room(s)"_s.arg(app.port()));
    QCOMPARE(controller.status().state, ServiceState::Running);
}

void TestServiceController::startFailureReportsStoppedWithExitCode()
{
    QTcpServer occupant;
    QVERIFY(occupant.listen(QHostAddress::LocalHost, 0));
    server::ServerConfig c = config();
    c.host = u"127.0.0.1"_s;
    c.port = occupant.serverPort();
    server::ServerApp app(c);
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QSignalSpy finished(&controller, &ServiceController::finished);

    const QString error = controller.start();
    QVERIFY(error.contains(u"cannot listen"_s));
    QCOMPARE(recorder.states(), (QList<ServiceState>{ServiceState::Starting, ServiceState::Stopped}));
    QCOMPARE(recorder.statuses.constLast().exitCode, 1);
    QVERIFY(recorder.statuses.constLast().text.contains(error));
    QCOMPARE(finished.count(), 0); // the caller exits with the error itself
}

void TestServiceController::stopDrainsThenReportsStopped_data()
{
    QTest::addColumn<ServiceControl>("request");
    QTest::addRow("stop") << ServiceControl::Stop;
    QTest::addRow("shutdown") << ServiceControl::Shutdown;
}

void TestServiceController::stopDrainsThenReportsStopped()
{
    QFETCH(ServiceControl, request);
    server::ServerApp app(config(3000));
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    QSignalSpy finished(&controller, &ServiceController::finished);

    TestClient client;
    QVERIFY(client.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(app.port()))));
    QVERIFY(!client.join(u"room-svc"_s, 1, u"u1"_s, u"Name"_s).isEmpty());

    controller.control(request);
    QCOMPARE(controller.status().state, ServiceState::Stopping);
    QVERIFY(recorder.drainingWhenStopping);
    QCOMPARE(controller.status().waitHintMs, 3000 + ServiceController::kStopMarginMs);
    QVERIFY(controller.status().text.startsWith(u"draining: "_s));

    QVERIFY(client.waitDisconnected());
    QCOMPARE(client.closeCode(), 1001);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(finished.constFirst().constFirst().toInt(), 0);
    QCOMPARE(recorder.states(),
             (QList<ServiceState>{ServiceState::Starting, ServiceState::Running, ServiceState::Stopping,
                                  ServiceState::Stopped}));
    QCOMPARE(recorder.statuses.constLast().exitCode, 0);
    QCOMPARE(recorder.statuses.constLast().text, u"stopped"_s);
}

void TestServiceController::stopBeforeStartChangesNothing()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    controller.control(ServiceControl::Stop);
    QVERIFY(!app.isDraining());
    QCOMPARE(controller.status().state, ServiceState::Starting);
    QCOMPARE(controller.start(), QString());
    QCOMPARE(controller.status().state, ServiceState::Running);
    QCOMPARE(httpGet(app.port(), "/health").status, 200);
}

void TestServiceController::secondStopIsIgnored()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    QSignalSpy finished(&controller, &ServiceController::finished);
    controller.control(ServiceControl::Stop);
    controller.control(ServiceControl::Stop);
    controller.control(ServiceControl::Shutdown);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(recorder.count(ServiceState::Stopping), 1);
    controller.control(ServiceControl::Stop); // after Stopped: nothing
    QTest::qWait(50);
    QCOMPARE(finished.count(), 1);
    QCOMPARE(recorder.count(ServiceState::Stopped), 1);
}

void TestServiceController::interrogateRepeatsTheCurrentStatus()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    const qsizetype before = recorder.statuses.size();
    controller.control(ServiceControl::Interrogate);
    QCOMPARE(recorder.statuses.size(), before + 1);
    QCOMPARE(recorder.statuses.constLast().state, ServiceState::Running);
    QCOMPARE(recorder.statuses.constLast().text, recorder.statuses.at(before - 1).text);
    QVERIFY(!app.isDraining());
}

void TestServiceController::lateReporterGetsTheCurrentStatus()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    QCOMPARE(controller.start(), QString());
    Recorder late(app);
    controller.addReporter(&late);
    QCOMPARE(late.statuses.size(), 1);
    QCOMPARE(late.statuses.constFirst().state, ServiceState::Running);
}

void TestServiceController::runningStatusFollowsTheLoad()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    controller.setIntervals(50, 50);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    TestClient a;
    TestClient b;
    QVERIFY(a.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(app.port()))));
    QVERIFY(b.open(QUrl(u"ws://127.0.0.1:%1/ws"_s.arg(app.port()))));
    QVERIFY(!a.join(u"room-load"_s, 2, u"u1"_s, u"A"_s).isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(controller.status().text.endsWith(u"; 2 connection(s), 1 room(s)"_s), 5000);
    QCOMPARE(recorder.statuses.constLast().state, ServiceState::Running);
    QCOMPARE(recorder.statuses.constLast().checkpoint, 0);
}

void TestServiceController::progressWhileClientsHoldTheDrain()
{
    // A client that completed the handshake and then reads nothing holds the
    // drain until its timeout; meanwhile the manager hears progress.
    server::ServerApp app(config(1500));
    ServiceController controller(app);
    controller.setIntervals(10000, 100);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    auto silent = rawWebSocket(app.port());
    QVERIFY(silent);
    QTRY_COMPARE(app.connections().count(), 1);
    QSignalSpy finished(&controller, &ServiceController::finished);

    controller.control(ServiceControl::Stop);
    QTRY_VERIFY_WITH_TIMEOUT(recorder.count(ServiceState::Stopping) >= 3 || !finished.isEmpty(), 5000);
    QList<int> checkpoints;
    for (const ServiceStatus &s : recorder.statuses) {
        if (s.state == ServiceState::Stopping) {
            checkpoints.append(s.checkpoint);
            QCOMPARE(s.waitHintMs, 1500 + ServiceController::kStopMarginMs);
        }
    }
    QVERIFY2(checkpoints.size() >= 3, "the drain ended before progress was reported");
    for (int i = 0; i < checkpoints.size(); ++i)
        QCOMPARE(checkpoints.at(i), i);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(recorder.statuses.constLast().state, ServiceState::Stopped);
}

void TestServiceController::drainStartedElsewhereIsReported()
{
    server::ServerApp app(config());
    ServiceController controller(app);
    Recorder recorder(app);
    controller.addReporter(&recorder);
    QCOMPARE(controller.start(), QString());
    QSignalSpy finished(&controller, &ServiceController::finished);
    app.beginDrain();
    QCOMPARE(controller.status().state, ServiceState::Stopping);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 5000);
    QCOMPARE(controller.status().state, ServiceState::Stopped);
}

QTEST_GUILESS_MAIN(TestServiceController)
#include "tst_servicecontroller.moc"
