#include "service/SystemdNotifier.h"

#ifdef MEDRELAY_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace medrelay::service {

namespace {

// A status line is one line: newlines would start a new assignment.
QByteArray statusLine(const QString &text)
{
    QByteArray line = text.toUtf8().left(512);
    line.replace('\n', ' ');
    return "STATUS=" + line;
}

} // namespace

SystemdNotifier::SystemdNotifier(QObject *parent)
    : QObject(parent)
{
#ifdef MEDRELAY_HAVE_SYSTEMD
    uint64_t usec = 0;
    // > 0 only when the unit sets WatchdogSec= and the ping is meant for us.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        const auto ms = static_cast<int>(std::max<uint64_t>(1, usec / 2000));
        m_watchdog.setInterval(ms);
        connect(&m_watchdog, &QTimer::timeout, this, [this] { notify("WATCHDOG=1"); });
        m_watchdog.start();
    }
#endif
}

bool SystemdNotifier::supported()
{
#ifdef MEDRELAY_HAVE_SYSTEMD
    return true;
#else
    return false;
#endif
}

void SystemdNotifier::report(const ServiceStatus &status)
{
    QByteArray message;
    switch (status.state) {
    case ServiceState::Starting:
        message = statusLine(status.text);
        break;
    case ServiceState::Running:
        if (!m_readySent) {
            message = "READY=1\n";
            m_readySent = true;
        }
        message += statusLine(status.text);
        break;
    case ServiceState::Stopping:
        if (!m_stoppingSent) {
            // Once: the drain's own timer bounds the stop; repeating the
            // extension would let a stuck process extend it for ever.
            message = "STOPPING=1\nEXTEND_TIMEOUT_USEC=" + QByteArray::number(qint64(status.waitHintMs) * 1000)
                + '\n';
            m_stoppingSent = true;
        }
        message += statusLine(status.text);
        break;
    case ServiceState::Stopped:
        m_watchdog.stop();
        message = statusLine(status.text);
        break;
    }
    notify(message);
}

void SystemdNotifier::notify(const QByteArray &state)
{
#ifdef MEDRELAY_HAVE_SYSTEMD
    sd_notify(0, state.constData());
#else
    Q_UNUSED(state)
#endif
}

} // namespace medrelay::service
