#include "widgets/HeadlessRun.h"

#include <QFileInfo>
#include <QPixmap>
#include <QWidget>

#include <cstdio>

namespace medrelay::console {

using namespace Qt::StringLiterals;

HeadlessRun::HeadlessRun(AdminClient *client, QWidget *window, double quitAfterSeconds, QString screenshotFile,
                         QObject *parent)
    : QObject(parent), m_client(client), m_window(window), m_screenshot(std::move(screenshotFile))
{
    m_deadline.setSingleShot(true);
    m_deadline.setInterval(static_cast<int>(quitAfterSeconds * 1000.0));
    connect(&m_deadline, &QTimer::timeout, this, &HeadlessRun::finish);
    connect(m_client, &AdminClient::stateChanged, this, &HeadlessRun::onStateChanged);
}

void HeadlessRun::start()
{
    m_deadline.start();
}

void HeadlessRun::onStateChanged(AdminClient::State state, const QString &reason)
{
    // A refused token will not become right by waiting.
    if (state == AdminClient::State::Unauthorised)
        end(Unauthorised, u"unauthorised: %1"_s.arg(reason));
}

void HeadlessRun::finish()
{
    const AdminClient::State state = m_client->state();
    if (state == AdminClient::State::Unauthorised) {
        end(Unauthorised, u"unauthorised: %1"_s.arg(m_client->stateReason()));
        return;
    }
    if (!m_client->isLive()) {
        const QString what = state == AdminClient::State::Unreachable ? u"unreachable"_s
                                                                     : AdminClient::stateName(state).toLower();
        const QString reason = m_client->stateReason().isEmpty() ? u"no answer yet"_s : m_client->stateReason();
        end(NotConnected, u"could not connect to %1: %2: %3"_s.arg(m_client->serverUrl().toDisplayString(), what, reason));
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
