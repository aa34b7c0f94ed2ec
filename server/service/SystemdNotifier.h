#pragma once
// Tells systemd about the service (Type=notify): READY=1 once the server
// listens, STATUS= lines with what it is doing, STOPPING=1 when the drain
// starts (with EXTEND_TIMEOUT_USEC covering the drain), and WATCHDOG=1 at
// half the unit's WatchdogSec for as long as the event loop runs. Does
// nothing when the process was not started by systemd (no NOTIFY_SOCKET).

#include "service/ServiceStatus.h"

#include <QObject>
#include <QTimer>

namespace medrelay::service {

class SystemdNotifier final : public QObject, public ServiceStatusReporter
{
    Q_OBJECT
public:
    explicit SystemdNotifier(QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(SystemdNotifier)

    void report(const ServiceStatus &status) override;

    // Milliseconds between watchdog pings; 0 when the unit has no watchdog.
    [[nodiscard]] int watchdogIntervalMs() const { return m_watchdog.isActive() ? m_watchdog.interval() : 0; }

    // Whether this build can notify systemd at all (libsystemd).
    [[nodiscard]] static bool supported();

private:
    void notify(const QByteArray &state);

    QTimer m_watchdog;
    bool m_readySent = false;
    bool m_stoppingSent = false;
};

} // namespace medrelay::service
