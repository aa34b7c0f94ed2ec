#pragma once
// Runs a ServerApp as a service: translates service-manager requests (stop,
// shutdown, interrogate) into ServerApp's graceful drain, and reports the
// server's life (starting, running, stopping, stopped) to every reporter,
// with a status line and, while stopping, progress and a wait hint that
// covers the drain timeout. Platform-neutral; the same class serves systemd,
// the Windows service control manager and launchd (which only signals).

#include "service/ServiceStatus.h"

#include <QList>
#include <QObject>
#include <QTimer>

namespace medrelay::server {
class ServerApp;
}

namespace medrelay::service {

class ServiceController final : public QObject
{
    Q_OBJECT
public:
    explicit ServiceController(server::ServerApp &server, QObject *parent = nullptr);
    ~ServiceController() override;
    Q_DISABLE_COPY_MOVE(ServiceController)

    // Not owned; each must outlive this controller. Gets the current status
    // at once.
    void addReporter(ServiceStatusReporter *reporter);

    // Reports Starting, starts the server, then reports Running, or Stopped
    // with exit code 1 and the reason (also returned; empty on success).
    QString start();

    // A request from the service manager, a signal or anything else. Safe to
    // call in any state: a stop while stopping or stopped changes nothing.
    void control(ServiceControl request);

    [[nodiscard]] const ServiceStatus &status() const { return m_status; }

    // How often the status line is refreshed while running (connections,
    // rooms) and progress is reported while stopping.
    void setIntervals(int runningMs, int stoppingMs);

    // Margin added to the drain timeout for the stop wait hint: the
    // process needs a moment after the drain to close the audit log and exit.
    static constexpr int kStopMarginMs = 5000;
    static constexpr int kStartWaitHintMs = 10000;

Q_SIGNALS:
    // After Stopped was reported; the process should exit with this code.
    void finished(int exitCode);

private:
    void onDrainStarted();
    void onServerFinished(int exitCode);
    void onTick();
    void publish(ServiceState state, const QString &text, int exitCode = 0, int waitHintMs = 0);
    [[nodiscard]] QString runningText() const;
    [[nodiscard]] QString stoppingText() const;

    server::ServerApp &m_server;
    QList<ServiceStatusReporter *> m_reporters;
    ServiceStatus m_status;
    QTimer m_tick;
    int m_runningIntervalMs = 10000;
    int m_stoppingIntervalMs = 1000;
};

} // namespace medrelay::service
