#pragma once
// The Windows service glue (built on Windows only). Connects the process to
// the service control manager on a helper thread, turns its control
// requests (stop, shutdown, interrogate) into ServiceController::control()
// calls queued to the Qt thread, and reports the controller's statuses with
// SetServiceStatus. The behaviour behind it is ServiceController's, which is
// tested on every platform; this file only translates.

#include "service/ServiceStatus.h"

#include <QString>

#include <memory>

namespace medrelay::service {

class ServiceController;
struct WindowsServiceHostState;

class WindowsServiceHost final : public ServiceStatusReporter
{
public:
    explicit WindowsServiceHost(ServiceController &controller);
    // Reports Stopped if nothing did, then waits for the dispatcher thread.
    ~WindowsServiceHost() override;
    Q_DISABLE_COPY_MOVE(WindowsServiceHost)

    // Starts the dispatcher and waits until the service control manager has
    // called the service's entry point. Returns an error text when this
    // process was not started as a service; empty on success.
    QString connectToManager();

    void report(const ServiceStatus &status) override;

    // The name the service is registered under (sc.exe create <name>).
    static const wchar_t *serviceName();

private:
    std::unique_ptr<WindowsServiceHostState> d;
};

} // namespace medrelay::service
