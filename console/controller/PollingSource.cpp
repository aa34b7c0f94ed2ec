#include "controller/PollingSource.h"

#include "core/AdminClient.h"

namespace medrelay::console {

PollingSource::PollingSource(AdminClient *client, QObject *parent)
    : DataSource(parent), m_client(client)
{
    connect(m_client, &AdminClient::stateChanged, this, [this](ConnectionState state, const QString &reason) {
        if (m_active || state == ConnectionState::Disconnected)
            setState(state, reason);
    });
    connect(m_client, &AdminClient::retryScheduled, this, [this](std::chrono::milliseconds delay) {
        if (m_active)
            Q_EMIT retryScheduled(delay);
    });
    connect(m_client, &AdminClient::serverRestarted, this, [this] {
        if (m_active)
            Q_EMIT serverRestarted();
    });
    connect(m_client, &AdminClient::healthUpdated, this, &PollingSource::onHealth);
    connect(m_client, &AdminClient::statsUpdated, this, &PollingSource::onStats);
    connect(m_client, &AdminClient::eventsReceived, this, [this](const QList<adminapi::Event> &events) {
        if (m_active)
            Q_EMIT eventsReceived(events);
    });
}

QString PollingSource::description() const
{
    const auto interval = m_client->pollInterval();
    if (interval.count() % 1000 == 0)
        return tr("polled every %n s", nullptr, static_cast<int>(interval.count() / 1000));
    return tr("polled every %1 ms").arg(interval.count());
}

void PollingSource::start()
{
    m_active = true;
    m_figures = {};
    m_client->start();
    setState(m_client->state(), m_client->stateReason());
}

void PollingSource::stop()
{
    m_active = false;
    m_client->stop();
    setState(ConnectionState::Disconnected);
}

void PollingSource::refreshNow()
{
    m_client->refreshNow();
}

void PollingSource::onHealth(const adminapi::Health &health)
{
    if (!m_active)
        return;
    m_figures.applyHealth(health);
    Q_EMIT figuresUpdated(m_figures);
}

void PollingSource::onStats(const adminapi::Stats &stats)
{
    if (!m_active)
        return;
    const QString healthStatus = m_figures.status;
    const auto audit = m_figures.audit;
    m_figures = ServerFigures::fromStats(stats, m_client->lastConnectionCap());
    m_figures.audit = audit; // /health's, which /stats does not repeat
    // /health says so first, even when /stats lags; and only /health says "degraded".
    if (healthStatus == QLatin1StringView("draining") || healthStatus == QLatin1StringView("degraded"))
        m_figures.status = healthStatus;
    const QDateTime now = stats.timestamp.isValid() ? stats.timestamp : QDateTime::currentDateTimeUtc();
    Q_EMIT figuresUpdated(m_figures);
    Q_EMIT roomsReplaced(stats.rooms, now);

    ActivitySample sample;
    sample.time = now;
    sample.messagesInPerSecond = stats.perSecond.messagesIn;
    sample.messagesOutPerSecond = stats.perSecond.messagesOut;
    sample.connections = stats.connections;
    sample.rooms = static_cast<int>(stats.rooms.size());
    Q_EMIT activitySampled(sample);
}

} // namespace medrelay::console
