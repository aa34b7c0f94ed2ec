// Sending a signal to a child process a test started, safely.
//
// QProcess::processId() is 0 once the child has exited (or never started),
// and kill(0, sig) signals the caller's whole process group: the test, ctest
// and whatever script ran ctest. A child that crashed early (a sanitizer
// halting it, say) must fail its own test, not terminate the run.
#pragma once

#include <QProcess>

#include <csignal>
#include <sys/types.h>

namespace medrelay::test {

// Signals the process with this id; refuses ids that name a group or init.
inline bool signalPid(qint64 pid, int sig)
{
    if (pid <= 1)
        return false;
    return ::kill(static_cast<pid_t>(pid), sig) == 0;
}

// Signals a running child; false (and nothing sent) when it is not running.
inline bool signalProcess(const QProcess &process, int sig)
{
    if (process.state() == QProcess::NotRunning)
        return false;
    return signalPid(process.processId(), sig);
}

} // namespace medrelay::test
