#include "service/ServiceController.h"

#include "app/ServerApp.h"
#include "realtime/ConnectionManager.h"
#include "consultation/RoomService.h"

namespace medrelay::service {

using namespace Qt::StringLiterals;

ServiceController::ServiceController(server::ServerApp &server, QObject *parent)
    : QObject(parent)
    , m_server(server)
{
    m_status.text = u"starting"_s;
    connect(&m_server, &server::ServerApp::drainStarted, this, &ServiceController::onDrainStarted);
    connect(&m_server, &server::ServerApp::finished, this, &ServiceController::onServerFinished);
    connect(&m_tick, &QTimer::timeout, this, &ServiceController::onTick);
}

ServiceController::~ServiceController() = default;

void ServiceController::addReporter(ServiceStatusReporter *reporter)
{
    if (!reporter || m_reporters.contains(reporter))
        return;
    m_reporters.append(reporter);
    reporter->report(m_status);
}

void ServiceController::setIntervals(int runningMs, int stoppingMs)
{
    m_runningIntervalMs = std::max(10, runningMs);
    m_stoppingIntervalMs = std::max(10, stoppingMs);
    if (m_tick.isActive())
        m_tick.start(m_status.state == ServiceState::Stopping ? m_stoppingIntervalMs : m_runningIntervalMs);
}

QString ServiceController::start()
{
    if (m_status.state != ServiceState::Starting)
        return u"already started"_s;
    publish(ServiceState::Starting, u"starting"_s, 0, kStartWaitHintMs);
    const QString error = m_server.start();
    if (!error.isEmpty()) {
        publish(ServiceState::Stopped, u"failed to start: "_s + error, 1);
        return error;
    }
    publish(ServiceState::Running, runningText());
    m_tick.start(m_runningIntervalMs);
    return {};
}

void ServiceController::control(ServiceControl request)
{
    switch (request) {
    case ServiceControl::Interrogate:
        for (ServiceStatusReporter *r : std::as_const(m_reporters))
            r->report(m_status);
        return;
    case ServiceControl::Stop:
    case ServiceControl::Shutdown:
        // Before start() there is nothing to drain; after it, ServerApp
        // ignores a second drain and drainStarted reports Stopping once.
        if (m_status.state == ServiceState::Running)
            m_server.beginDrain();
        return;
    }
}

void ServiceController::onDrainStarted()
{
    if (m_status.state == ServiceState::Stopping || m_status.state == ServiceState::Stopped)
        return;
    publish(ServiceState::Stopping, stoppingText(), 0, m_server.config().drainTimeoutMs + kStopMarginMs);
    m_tick.start(m_stoppingIntervalMs);
}

void ServiceController::onServerFinished(int exitCode)
{
    if (m_status.state == ServiceState::Stopped)
        return;
    m_tick.stop();
    publish(ServiceState::Stopped, exitCode == 0 ? u"stopped"_s : u"stopped with exit code %1"_s.arg(exitCode),
            exitCode);
    Q_EMIT finished(exitCode);
}

void ServiceController::onTick()
{
    if (m_status.state == ServiceState::Running)
        publish(ServiceState::Running, runningText());
    else if (m_status.state == ServiceState::Stopping)
        publish(ServiceState::Stopping, stoppingText(), 0, m_status.waitHintMs);
}

void ServiceController::publish(ServiceState state, const QString &text, int exitCode, int waitHintMs)
{
    const bool pending = state == ServiceState::Starting || state == ServiceState::Stopping;
    m_status.checkpoint = pending && state == m_status.state ? m_status.checkpoint + 1 : 0;
    m_status.state = state;
    m_status.text = text;
    m_status.exitCode = exitCode;
    m_status.waitHintMs = pending ? waitHintMs : 0;
    for (ServiceStatusReporter *r : std::as_const(m_reporters))
        r->report(m_status);
}

QString ServiceController::runningText() const
{
    return u"listening on %1:%2; %3 connection(s), %4 room(s)"_s.arg(m_server.config().host)
        .arg(m_server.port())
        .arg(m_server.connections().count())
        .arg(m_server.rooms().count());
}

QString ServiceController::stoppingText() const
{
    return u"draining: %1 connection(s) left"_s.arg(m_server.connections().count());
}

} // namespace medrelay::service
