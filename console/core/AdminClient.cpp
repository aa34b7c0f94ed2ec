#include "core/AdminClient.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>

namespace medrelay::console {

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

namespace {

int httpStatus(const QNetworkReply *reply)
{
    return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
}

std::optional<QJsonObject> jsonObject(const QByteArray &body)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

// Transport failures in words an administrator can act on.
QString transportError(const QNetworkReply *reply)
{
    // QNetworkRequest's transfer timeout ends a request as "Operation canceled".
    if (reply->error() == QNetworkReply::OperationCanceledError)
        return AdminClient::tr("no answer (timed out)");
    return reply->errorString();
}

// The server's {"error":{"code":..,"message":..}}, or the transport's own words.
QString errorText(QNetworkReply *reply, const QByteArray &body)
{
    const int status = httpStatus(reply);
    if (status == 0)
        return transportError(reply);
    QString message;
    if (const auto o = jsonObject(body)) {
        const QJsonObject error = o->value("error"_L1).toObject();
        message = error.value("message"_L1).toString();
        if (message.isEmpty())
            message = error.value("code"_L1).toString();
    }
    if (message.isEmpty())
        message = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
    return message.isEmpty() ? u"HTTP %1"_s.arg(status) : u"HTTP %1: %2"_s.arg(status).arg(message);
}

} // namespace

AdminClient::AdminClient(QObject *parent)
    : QObject(parent), m_nam(new QNetworkAccessManager(this))
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &AdminClient::poll);
    // Redirects are not followed: a login page answering for the admin API is
    // an error to show, not JSON to guess at.
    m_nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
}

AdminClient::~AdminClient()
{
    ++m_generation;
    if (m_pollReply)
        m_pollReply->abort();
}

void AdminClient::setServer(const QUrl &baseUrl, const QString &token)
{
    stop();
    m_base = baseUrl;
    m_token = token;
    m_health.reset();
    m_stats.reset();
    m_connectionCap.reset();
    m_eventsSince = 0;
    m_eventsUnsupported = false;
}

void AdminClient::setBackoffLimits(std::chrono::milliseconds minimum, std::chrono::milliseconds maximum)
{
    m_backoff.setLimits(minimum, maximum);
}

QString AdminClient::actionName(Action action)
{
    switch (action) {
    case Action::CloseRoom: return tr("Close room");
    case Action::CloseIdleRooms: return tr("Close idle rooms");
    case Action::CloseIdleRoomsDryRun: return tr("Count idle rooms");
    case Action::DisconnectConnection: return tr("Disconnect participant");
    case Action::EndConsultation: return tr("End consultation");
    }
    return {};
}

void AdminClient::start()
{
    stop();
    const QString scheme = m_base.scheme();
    if (!m_base.isValid() || m_base.host().isEmpty() || (scheme != "http"_L1 && scheme != "https"_L1)) {
        setState(State::Unreachable, tr("not an http:// or https:// server address: %1")
                                         .arg(m_base.toDisplayString()));
        return;
    }
    m_running = true;
    m_backoff.reset();
    setState(State::Connecting);
    poll();
}

void AdminClient::stop()
{
    ++m_generation;
    m_running = false;
    m_timer.stop();
    if (QNetworkReply *reply = m_pollReply) {
        m_pollReply = nullptr;
        reply->abort();
    }
    setState(State::Disconnected);
}

void AdminClient::refreshNow()
{
    if (!m_running)
        return;
    if (m_pollReply) {
        m_refreshRequested = true;
        return;
    }
    m_timer.stop();
    poll();
}

void AdminClient::setState(State state, const QString &reason)
{
    if (state == m_state && reason == m_reason)
        return;
    m_state = state;
    m_reason = reason;
    Q_EMIT stateChanged(state, reason);
}

QUrl AdminClient::urlFor(const QString &path, const QString &query) const
{
    QUrl url = m_base;
    QString prefix = url.path(QUrl::FullyEncoded);
    while (prefix.endsWith(u'/'))
        prefix.chop(1);
    url.setPath(prefix + path, QUrl::StrictMode);
    url.setQuery(query.isEmpty() ? QString() : query);
    url.setFragment({});
    return url;
}

QNetworkReply *AdminClient::get(const QString &path, const QString &query)
{
    QNetworkRequest request(urlFor(path, query));
    request.setTransferTimeout(static_cast<int>(m_timeout.count()));
    request.setRawHeader("Accept", "application/json");
    request.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    if (!m_token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    return m_nam->get(request);
}

void AdminClient::track(QNetworkReply *reply)
{
    m_pollReply = reply;
}

void AdminClient::poll()
{
    if (!m_running || m_pollReply)
        return;
    m_refreshRequested = false;
    m_cycleClock.start();
    QNetworkReply *reply = get(QString::fromLatin1(adminapi::Path::Health));
    track(reply);
    connect(reply, &QNetworkReply::finished, this, [this, reply, generation = m_generation] {
        reply->deleteLater();
        if (generation == m_generation)
            onHealthReply(reply);
    });
}

void AdminClient::onHealthReply(QNetworkReply *reply)
{
    m_pollReply = nullptr;
    const QByteArray body = reply->readAll();
    const int status = httpStatus(reply);
    if (status == 0) {
        fail(State::Unreachable, transportError(reply));
        return;
    }
    std::optional<adminapi::Health> health;
    if (const auto o = jsonObject(body))
        health = adminapi::Health::fromJson(*o);
    if (!health || (status != 200 && status != 503)) {
        fail(State::Unreachable, tr("unexpected answer from %1 (%2); is this a medrelay server?")
                                     .arg(QString::fromLatin1(adminapi::Path::Health), errorText(reply, body)));
        return;
    }
    if (m_health && health->uptimeSeconds + 1.0 < m_health->uptimeSeconds) {
        m_eventsSince = 0;
        Q_EMIT serverRestarted();
    }
    m_health = health;
    Q_EMIT healthUpdated(*health);

    QNetworkReply *next = get(QString::fromLatin1(adminapi::Path::Stats));
    track(next);
    connect(next, &QNetworkReply::finished, this, [this, next, generation = m_generation] {
        next->deleteLater();
        if (generation == m_generation)
            onStatsReply(next);
    });
}

void AdminClient::onStatsReply(QNetworkReply *reply)
{
    m_pollReply = nullptr;
    const QByteArray body = reply->readAll();
    const int status = httpStatus(reply);
    const bool healthDraining = m_health && m_health->status == "draining"_L1;
    if (status == 0) {
        fail(State::Unreachable, transportError(reply));
        return;
    }
    if (status == 401 || status == 403) {
        fail(State::Unauthorised, m_token.isEmpty()
                                      ? tr("the server needs an admin token (%1)").arg(errorText(reply, body))
                                      : tr("the server refused the admin token (%1)").arg(errorText(reply, body)));
        return;
    }
    if (status == 503 && healthDraining) {
        // A draining server may stop answering /stats; health alone still tells the story.
        m_backoff.reset();
        setState(State::Draining, tr("the server is shutting down"));
        finishCycle();
        return;
    }
    std::optional<adminapi::Stats> stats;
    std::optional<int> cap;
    if (status == 200) {
        if (const auto o = jsonObject(body))
            stats = adminapi::Stats::fromJson(*o);
        if (stats && stats->maxConnections > 0) // older servers do not say
            cap = stats->maxConnections;
    }
    if (!stats) {
        fail(State::Unreachable, tr("unexpected answer from %1 (%2)")
                                     .arg(QString::fromLatin1(adminapi::Path::Stats), errorText(reply, body)));
        return;
    }
    m_stats = stats;
    m_connectionCap = cap;
    m_backoff.reset();
    const bool draining = healthDraining || stats->status == "draining"_L1;
    setState(draining ? State::Draining : State::Connected,
             draining ? tr("the server is shutting down") : QString());
    Q_EMIT statsUpdated(*stats);

    if (m_eventsUnsupported) {
        finishCycle();
        return;
    }
    QUrlQuery query;
    query.addQueryItem(u"since"_s, QString::number(m_eventsSince));
    QNetworkReply *next = get(QString::fromLatin1(adminapi::Path::Events), query.toString(QUrl::FullyEncoded));
    track(next);
    connect(next, &QNetworkReply::finished, this, [this, next, generation = m_generation] {
        next->deleteLater();
        if (generation == m_generation)
            onEventsReply(next);
    });
}

void AdminClient::onEventsReply(QNetworkReply *reply)
{
    m_pollReply = nullptr;
    const QByteArray body = reply->readAll();
    const int status = httpStatus(reply);
    if (status == 404) {
        m_eventsUnsupported = true; // an older server: the log shows the console's own entries only
    } else if (status == 200) {
        std::optional<adminapi::EventPage> page;
        if (const auto o = jsonObject(body))
            page = adminapi::EventPage::fromJson(*o);
        if (page) {
            if (page->nextSeq < m_eventsSince) {
                // Numbering restarted: the server restarted between two polls.
                m_eventsSince = 0;
                Q_EMIT serverRestarted();
                refreshNow();
            } else {
                QList<adminapi::Event> fresh;
                fresh.reserve(page->events.size());
                for (const auto &event : std::as_const(page->events)) {
                    if (event.seq >= m_eventsSince)
                        fresh.append(event);
                }
                m_eventsSince = std::max(m_eventsSince, page->nextSeq);
                if (!fresh.isEmpty())
                    Q_EMIT eventsReceived(fresh);
            }
        }
    }
    // Any other failure of the event feed leaves the connection state alone: the
    // next /health and /stats decide that.
    finishCycle();
}

void AdminClient::finishCycle()
{
    m_pollReply = nullptr;
    if (!m_running)
        return;
    if (m_refreshRequested) {
        scheduleNext(0ms);
        return;
    }
    const auto elapsed = std::chrono::milliseconds(m_cycleClock.elapsed());
    scheduleNext(std::max(std::chrono::milliseconds(0), m_interval - elapsed));
}

void AdminClient::fail(State state, const QString &reason)
{
    m_pollReply = nullptr;
    setState(state, reason);
    if (state == State::Unauthorised) {
        // Retrying a refused token only fills the server's logs (and may trip its limits).
        m_running = false;
        m_timer.stop();
        return;
    }
    const auto delay = m_backoff.next();
    Q_EMIT retryScheduled(delay);
    scheduleNext(delay);
}

void AdminClient::scheduleNext(std::chrono::milliseconds delay)
{
    if (!m_running)
        return;
    m_timer.start(delay);
}

void AdminClient::closeRoom(const QString &roomId, const QString &reason)
{
    const QString path = QString::fromLatin1(adminapi::Path::RoomsPrefix)
                         + QString::fromLatin1(QUrl::toPercentEncoding(roomId)) + "/close"_L1;
    post(Action::CloseRoom, path, adminapi::CloseRoomRequest{reason}.toJson());
}

void AdminClient::closeIdleRooms(qint64 idleSeconds, const QString &reason, bool dryRun)
{
    post(dryRun ? Action::CloseIdleRoomsDryRun : Action::CloseIdleRooms,
         QString::fromLatin1(adminapi::Path::CloseIdleRooms),
         adminapi::CloseIdleRequest{idleSeconds, reason, dryRun}.toJson());
}

void AdminClient::disconnectConnection(const QString &connectionId, const QString &reason)
{
    const QString path = QString::fromLatin1(adminapi::Path::ConnectionsPrefix)
                         + QString::fromLatin1(QUrl::toPercentEncoding(connectionId)) + "/disconnect"_L1;
    post(Action::DisconnectConnection, path, adminapi::DisconnectRequest{reason}.toJson());
}

void AdminClient::endConsultation(const QString &roomId, const QString &reason)
{
    const QString path = QString::fromLatin1(adminapi::Path::RoomsPrefix)
                         + QString::fromLatin1(QUrl::toPercentEncoding(roomId)) + "/end"_L1;
    post(Action::EndConsultation, path, adminapi::CloseRoomRequest{reason}.toJson());
}

void AdminClient::fetchRoom(const QString &roomId)
{
    QNetworkReply *reply = get(QString::fromLatin1(adminapi::Path::RoomsPrefix)
                               + QString::fromLatin1(QUrl::toPercentEncoding(roomId)));
    connect(reply, &QNetworkReply::finished, this, [this, reply, roomId] {
        reply->deleteLater();
        const QByteArray body = reply->readAll();
        const int status = httpStatus(reply);
        std::optional<adminapi::RoomInfo> room;
        if (status == 200) {
            if (const auto o = jsonObject(body))
                room = adminapi::RoomInfo::fromJson(*o);
        }
        Q_EMIT roomFetched(roomId, room, status, room ? QString() : errorText(reply, body));
    });
}

void AdminClient::post(Action action, const QString &path, const QJsonObject &body)
{
    QNetworkRequest request(urlFor(path));
    request.setTransferTimeout(static_cast<int>(m_timeout.count()));
    request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
    request.setRawHeader("Accept", "application/json");
    if (!m_token.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    QNetworkReply *reply = m_nam->post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    connect(reply, &QNetworkReply::finished, this, [this, reply, action] {
        reply->deleteLater();
        const QByteArray answer = reply->readAll();
        const int status = httpStatus(reply);
        std::optional<adminapi::ActionResult> result;
        if (const auto o = jsonObject(answer))
            result = adminapi::ActionResult::fromJson(*o);
        if (!result || status < 200 || status >= 300) {
            adminapi::ActionResult failed;
            failed.ok = false;
            failed.action = result ? result->action : QString();
            failed.message = result && !result->message.isEmpty() ? result->message
                                                                  : errorText(reply, answer);
            result = failed;
        }
        Q_EMIT actionFinished(action, *result);
        refreshNow();
    });
}

} // namespace medrelay::console
