#pragma once
// The unattended mode (--quit-after, --screenshot): waits the given time,
// writes a PNG of the main window when connected, and ends with an exit code
// scripts can test: 0 connected, 2 unauthorised (at once), 3 could not
// connect, 4 screenshot not written. The reason goes to stderr.

#include "core/ConnectionState.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

class QWidget;

namespace medrelay::console {

class ConsoleController;

class HeadlessRun final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HeadlessRun)

public:
    enum ExitCode { Ok = 0, Unauthorised = 2, NotConnected = 3, ScreenshotFailed = 4 };

    HeadlessRun(ConsoleController *controller, QWidget *window, double quitAfterSeconds, QString screenshotFile,
                QObject *parent = nullptr);

    void start();

Q_SIGNALS:
    void finished(int exitCode);

private:
    void onStateChanged(ConnectionState state);
    void finish();
    void end(int code, const QString &message);
    [[nodiscard]] QString unauthorisedMessage() const;

    ConsoleController *m_controller = nullptr;
    QPointer<QWidget> m_window;
    QTimer m_deadline;
    QString m_screenshot;
    bool m_done = false;
};

} // namespace medrelay::console
