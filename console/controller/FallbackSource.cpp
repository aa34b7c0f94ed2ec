#include "controller/FallbackSource.h"

#include "controller/PollingSource.h"
#include "controller/StreamSource.h"
#include "core/AdminClient.h"

namespace medrelay::console {

FallbackSource::FallbackSource(AdminClient *client, QObject *parent)
    : DataSource(parent)
    , m_stream(new StreamSource(client, this))
    , m_polling(new PollingSource(client, this))
    , m_current(m_stream)
{
    forward(m_stream);
    forward(m_polling);
    connect(m_stream, &StreamSource::unavailable, this, &FallbackSource::onStreamUnavailable);
    connect(m_polling, &DataSource::stateChanged, this, &FallbackSource::onPollingState);
    connect(m_polling, &DataSource::serverRestarted, this, [this] {
        if (m_active && m_current == m_polling)
            QMetaObject::invokeMethod(this, [this] { use(m_stream); }, Qt::QueuedConnection);
    });
}

void FallbackSource::forward(DataSource *from)
{
    // Only the source in use speaks for this one.
    const auto current = [this, from] { return m_active && from == m_current; };
    connect(from, &DataSource::stateChanged, this, [this, current](ConnectionState state, const QString &reason) {
        if (current())
            setState(state, reason);
    });
    connect(from, &DataSource::retryScheduled, this, [this, current](std::chrono::milliseconds delay) {
        if (current())
            Q_EMIT retryScheduled(delay);
    });
    connect(from, &DataSource::serverRestarted, this, [this, current] {
        if (current())
            Q_EMIT serverRestarted();
    });
    connect(from, &DataSource::figuresUpdated, this, [this, current](const ServerFigures &f) {
        if (current())
            Q_EMIT figuresUpdated(f);
    });
    connect(from, &DataSource::activitySampled, this, [this, current](const ActivitySample &s) {
        if (current())
            Q_EMIT activitySampled(s);
    });
    connect(from, &DataSource::roomsReplaced, this,
            [this, current](const QList<adminapi::RoomInfo> &rooms, const QDateTime &now) {
                if (current())
                    Q_EMIT roomsReplaced(rooms, now);
            });
    connect(from, &DataSource::roomUpdated, this, [this, current](const adminapi::RoomInfo &room, const QDateTime &now) {
        if (current())
            Q_EMIT roomUpdated(room, now);
    });
    connect(from, &DataSource::roomRemoved, this, [this, current](const QString &roomId, const QDateTime &now) {
        if (current())
            Q_EMIT roomRemoved(roomId, now);
    });
    connect(from, &DataSource::roomsUpdated, this,
            [this, current](const QList<adminapi::RoomInfo> &rooms, const QDateTime &now) {
                if (current())
                    Q_EMIT roomsUpdated(rooms, now);
            });
    connect(from, &DataSource::eventsReceived, this, [this, current](const QList<adminapi::Event> &events) {
        if (current())
            Q_EMIT eventsReceived(events);
    });
    connect(from, &DataSource::notice, this, [this, current](const QString &text, LogEntry::Severity severity) {
        if (current())
            Q_EMIT notice(text, severity);
    });
}

QString FallbackSource::description() const
{
    if (m_current == m_stream)
        return m_stream->description();
    return tr("%1 (%2)").arg(m_polling->description(), m_fallbackReason);
}

bool FallbackSource::isStreaming() const
{
    return m_current == m_stream;
}

void FallbackSource::start()
{
    m_active = true;
    m_fallbackReason.clear();
    use(m_stream);
}

void FallbackSource::stop()
{
    m_active = false;
    m_stream->stop();
    m_polling->stop();
    setState(ConnectionState::Disconnected);
}

void FallbackSource::refreshNow()
{
    m_current->refreshNow();
}

void FallbackSource::use(DataSource *source)
{
    if (!m_active)
        return;
    DataSource *previous = m_current;
    m_current = source; // first, so the one stopped below no longer speaks
    if (previous != source)
        previous->stop();
    else if (source == m_polling)
        m_stream->stop();
    source->start();
    setState(source->state(), source->stateReason());
}

void FallbackSource::onStreamUnavailable(int httpStatus, const QString &reason)
{
    if (!m_active || m_current != m_stream)
        return;
    m_fallbackReason = httpStatus == 404 ? tr("the server has no event stream") : reason;
    Q_EMIT notice(tr("%1; polling instead.").arg(httpStatus == 404 ? tr("This server has no event stream (HTTP 404)")
                                                                    : reason),
                  httpStatus == 404 ? LogEntry::Severity::Info : LogEntry::Severity::Warning);
    m_lastPollingState = ConnectionState::Disconnected;
    use(m_polling);
}

void FallbackSource::onPollingState(ConnectionState state)
{
    const ConnectionState before = m_lastPollingState;
    m_lastPollingState = state;
    // Back after being away: perhaps another server now, offer it the stream.
    if (m_active && m_current == m_polling && before == ConnectionState::Unreachable && Connection::isLive(state))
        QMetaObject::invokeMethod(this, [this] { use(m_stream); }, Qt::QueuedConnection);
}

} // namespace medrelay::console
