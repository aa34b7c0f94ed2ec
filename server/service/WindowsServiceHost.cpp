#include "service/WindowsServiceHost.h"

#include "service/ServiceController.h"

#include <QMetaObject>

#include <condition_variable>
#include <mutex>
#include <thread>

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

namespace medrelay::service {

using namespace Qt::StringLiterals;

struct WindowsServiceHostState
{
    explicit WindowsServiceHostState(ServiceController &c)
        : controller(c)
    {
    }
    ServiceController &controller;
    std::thread dispatcher;
    std::mutex mutex;
    std::condition_variable changed;
    SERVICE_STATUS_HANDLE handle = nullptr;
    bool entered = false;        // the manager called serviceMain
    bool dispatcherDone = false; // StartServiceCtrlDispatcherW returned
    DWORD dispatcherError = 0;
    bool stopped = false; // SERVICE_STOPPED was reported: serviceMain may return
};

namespace {

constexpr wchar_t kServiceName[] = L"medrelay-server";

// The manager calls serviceMain with no context; one service per process.
WindowsServiceHostState *g_state = nullptr;

// Runs on the dispatcher thread: hand the request to the Qt thread and
// answer at once, as the manager expects.
DWORD WINAPI controlHandler(DWORD control, DWORD /*eventType*/, LPVOID /*eventData*/, LPVOID context)
{
    auto *state = static_cast<WindowsServiceHostState *>(context);
    ServiceController *controller = &state->controller;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN: {
        const ServiceControl request =
            control == SERVICE_CONTROL_STOP ? ServiceControl::Stop : ServiceControl::Shutdown;
        QMetaObject::invokeMethod(controller, [controller, request] { controller->control(request); },
                                  Qt::QueuedConnection);
        return NO_ERROR;
    }
    case SERVICE_CONTROL_INTERROGATE:
        QMetaObject::invokeMethod(controller, [controller] { controller->control(ServiceControl::Interrogate); },
                                  Qt::QueuedConnection);
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

// Runs on a thread the manager creates. Lasts as long as the service, as the
// manager expects; the server itself runs on the Qt thread.
void WINAPI serviceMain(DWORD /*argc*/, LPWSTR * /*argv*/)
{
    WindowsServiceHostState *state = g_state;
    const SERVICE_STATUS_HANDLE handle = RegisterServiceCtrlHandlerExW(kServiceName, controlHandler, state);
    {
        const std::lock_guard lock(state->mutex);
        state->handle = handle;
        state->entered = true;
    }
    state->changed.notify_all();
    if (!handle)
        return;
    std::unique_lock lock(state->mutex);
    state->changed.wait(lock, [state] { return state->stopped; });
}

DWORD currentState(ServiceState state)
{
    switch (state) {
    case ServiceState::Starting:
        return SERVICE_START_PENDING;
    case ServiceState::Running:
        return SERVICE_RUNNING;
    case ServiceState::Stopping:
        return SERVICE_STOP_PENDING;
    case ServiceState::Stopped:
        return SERVICE_STOPPED;
    }
    return SERVICE_STOPPED;
}

} // namespace

WindowsServiceHost::WindowsServiceHost(ServiceController &controller)
    : d(std::make_unique<WindowsServiceHostState>(controller))
{
}

WindowsServiceHost::~WindowsServiceHost()
{
    bool mustReport = false;
    {
        const std::lock_guard lock(d->mutex);
        mustReport = d->handle && !d->stopped;
    }
    if (mustReport) {
        ServiceStatus status;
        status.state = ServiceState::Stopped;
        status.exitCode = 1;
        report(status);
    }
    if (d->dispatcher.joinable())
        d->dispatcher.join();
    g_state = nullptr;
}

const wchar_t *WindowsServiceHost::serviceName()
{
    return kServiceName;
}

QString WindowsServiceHost::connectToManager()
{
    g_state = d.get();
    WindowsServiceHostState *state = d.get();
    d->dispatcher = std::thread([state] {
        SERVICE_TABLE_ENTRYW table[] = {{const_cast<LPWSTR>(kServiceName), serviceMain}, {nullptr, nullptr}};
        const BOOL ok = StartServiceCtrlDispatcherW(table);
        const DWORD error = ok ? 0 : GetLastError();
        {
            const std::lock_guard lock(state->mutex);
            state->dispatcherError = error;
            state->dispatcherDone = true;
        }
        state->changed.notify_all();
    });
    std::unique_lock lock(d->mutex);
    d->changed.wait(lock, [state] { return state->entered || state->dispatcherDone; });
    if (d->entered && d->handle)
        return {};
    if (d->entered)
        return u"cannot register the service control handler (error %1)"_s.arg(GetLastError());
    if (d->dispatcherError == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
        return u"--service: this process was not started by the service control manager"_s;
    return u"--service: cannot connect to the service control manager (error %1)"_s.arg(d->dispatcherError);
}

void WindowsServiceHost::report(const ServiceStatus &status)
{
    SERVICE_STATUS_HANDLE handle = nullptr;
    {
        const std::lock_guard lock(d->mutex);
        handle = d->handle;
    }
    if (!handle)
        return;
    const bool pending = status.state == ServiceState::Starting || status.state == ServiceState::Stopping;
    SERVICE_STATUS s = {};
    s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.dwCurrentState = currentState(status.state);
    s.dwControlsAccepted = status.state == ServiceState::Running ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    if (status.state == ServiceState::Stopped && status.exitCode != 0) {
        s.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
        s.dwServiceSpecificExitCode = static_cast<DWORD>(status.exitCode);
    } else {
        s.dwWin32ExitCode = NO_ERROR;
    }
    s.dwCheckPoint = pending ? static_cast<DWORD>(status.checkpoint) : 0;
    s.dwWaitHint = pending ? static_cast<DWORD>(status.waitHintMs) : 0;
    SetServiceStatus(handle, &s);
    if (status.state == ServiceState::Stopped) {
        {
            const std::lock_guard lock(d->mutex);
            d->stopped = true;
        }
        d->changed.notify_all();
    }
}

} // namespace medrelay::service
