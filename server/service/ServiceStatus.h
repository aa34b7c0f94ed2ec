#pragma once
// What a service manager (systemd, the Windows service control manager) is
// told about the server, and what it may ask of it. Platform-neutral: the
// ServiceController produces statuses and takes requests; a small reporter
// per platform translates them (sd_notify, SetServiceStatus).

#include <QString>

namespace medrelay::service {

enum class ServiceState { Starting, Running, Stopping, Stopped };

struct ServiceStatus
{
    ServiceState state = ServiceState::Starting;
    QString text;        // one line for people: "listening on 0.0.0.0:9003; 3 connections, 1 room"
    int exitCode = 0;    // with Stopped: 0 after a clean stop, else the process's exit code
    int waitHintMs = 0;  // with Starting/Stopping: the longest the manager should wait for the next report
    int checkpoint = 0;  // with Starting/Stopping: grows with each progress report
};

// Requests a service manager sends.
enum class ServiceControl {
    Stop,        // stop the service: drain, then exit
    Shutdown,    // the machine is shutting down: the same as Stop
    Interrogate, // report the current status again
};

class ServiceStatusReporter
{
public:
    virtual ~ServiceStatusReporter() = default;
    virtual void report(const ServiceStatus &status) = 0;

protected:
    ServiceStatusReporter() = default;
    Q_DISABLE_COPY_MOVE(ServiceStatusReporter)
};

[[nodiscard]] QString stateName(ServiceState state);

} // namespace medrelay::service
