#include "widgets/HeadlessRun.h"

#include "controller/ConsoleController.h"

#include <QFileInfo>
#include <QPixmap>
#include <QWidget>

#include <cstdio>

namespace medrelay::console {

using namespace Qt::StringLiterals;

HeadlessRun::HeadlessRun(ConsoleController *controller, QWidget *window, double quitAfterSeconds,
                         QString screenshotFile, QObject *parent)
    : QObject(parent), m_controller(controller), m_window(window), m_screenshot(std::move(screenshotFile))
{
    m_deadline.setSingleShot(true);
    m_deadline.setInterval(static_cast<int>(quitAfterSeconds * 1000.0));
    connect(&m_deadline, &QTimer::timeout, this, &HeadlessRun::finish);
    connect(m_controller, &ConsoleController::stateChanged, this, &HeadlessRun::onStateChanged);
}

void HeadlessRun::start()
{
    m_deadline.start();
}

QString HeadlessRun::unauthorisedMessage() const
{
    QString text = u"unauthorised: %1"_s.arg(m_controller->stateReason());
    if (!m_controller->hasToken())
        text += u"; give the admin token with MEDRELAY_ADMIN_TOKEN or --token"_s;
    return text;
}

void HeadlessRun::onStateChanged(ConnectionState state)
{
    // A refused (or missing) token will not become right by waiting.
    if (state == ConnectionState::Unauthorised)
        end(Unauthorised, unauthorisedMessage());
}

void HeadlessRun::finish()
{
    const ConnectionState state = m_controller->state();
    if (state == ConnectionState::Unauthorised) {
        end(Unauthorised, unauthorisedMessage());
        return;
    }
    if (!m_controller->isLive()) {
        const QString what = state == ConnectionState::Unreachable ? u"unreachable"_s
                                                                  : Connection::stateName(state).toLower();
        const QString reason = m_controller->stateReason().isEmpty() ? u"no answer yet"_s : m_controller->stateReason();
        end(NotConnected,
            u"could not connect to %1: %2: %3"_s.arg(m_controller->server().toDisplayString(), what, reason));
        return;
    }
    if (!m_screenshot.isEmpty()) {
        if (!m_window) {
            end(ScreenshotFailed, u"no window to take a screenshot of"_s);
            return;
        }
        const QPixmap shot = m_window->grab();
        if (shot.isNull() || !shot.save(m_screenshot, "PNG")) {
            end(ScreenshotFailed, u"could not write the screenshot to %1"_s.arg(m_screenshot));
            return;
        }
        std::fprintf(stdout, "medrelay-console: wrote %s (%dx%d)\n",
                     qUtf8Printable(QFileInfo(m_screenshot).absoluteFilePath()), shot.width(), shot.height());
    }
    end(Ok, {});
}

void HeadlessRun::end(int code, const QString &message)
{
    if (m_done)
        return;
    m_done = true;
    m_deadline.stop();
    if (!message.isEmpty())
        std::fprintf(stderr, "medrelay-console: %s\n", qUtf8Printable(message));
    std::fflush(stdout);
    std::fflush(stderr);
    Q_EMIT finished(code);
}

} // namespace medrelay::console
