#include "controller/StreamSource.h"

#include "core/AdminClient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QUrlQuery>
#include <QWebSocket>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

// A snapshot of thousands of rooms is a few megabytes; nothing the server
// sends comes near this.
constexpr qint64 kMaxMessageBytes = 256 * 1024 * 1024;

// QWebSocket reports a refused upgrade only in its error text
// ("... Unhandled http status code: 404 (Not Found).").
int httpStatusIn(const QString &error)
{
    static const QRegularExpression status(u"status code:?\\s*(\\d{3})"_s);
    const auto match = status.match(error);
    return match.hasMatch() ? match.captured(1).toInt() : 0;
}

QDateTime fromMs(const QJsonValue &v)
{
    const qint64 ms = v.toInteger();
    return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC) : QDateTime::currentDateTimeUtc();
}

QString text(const QJsonValue &v)
{
    return v.isDouble() ? QString::number(v.toInteger()) : v.toString();
}

} // namespace

StreamSource::StreamSource(AdminClient *client, QObject *parent)
    : DataSource(parent), m_client(client)
{
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &StreamSource::open);
    m_silence.setSingleShot(true);
    connect(&m_silence, &QTimer::timeout, this, [this] { onLost(tr("the event stream fell silent"), 0); });
    m_openTimeout.setSingleShot(true);
    connect(&m_openTimeout, &QTimer::timeout, this, [this] { onLost(tr("no answer (timed out)"), 0); });
}

StreamSource::~StreamSource()
{
    closeSocket();
}

QString StreamSource::description() const
{
    return tr("live event stream");
}

QUrl StreamSource::streamUrl(const QUrl &server, const QString &since, const QString &epoch)
{
    QUrl url = server;
    url.setScheme(server.scheme() == "https"_L1 ? u"wss"_s : u"ws"_s);
    QString prefix = url.path(QUrl::FullyEncoded);
    while (prefix.endsWith(u'/'))
        prefix.chop(1);
    url.setPath(prefix + QLatin1StringView(adminapi::Path::AdminStream), QUrl::StrictMode);
    QUrlQuery query;
    if (!since.isEmpty()) {
        query.addQueryItem(u"since"_s, since);
        query.addQueryItem(u"epoch"_s, epoch);
    }
    url.setQuery(query);
    url.setFragment({});
    return url;
}

void StreamSource::start()
{
    m_retry.stop();
    closeSocket();
    m_active = true;
    // A connection the user asked for starts afresh.
    m_rooms.clear();
    m_epoch.clear();
    m_seq = -1;
    m_figures = {};
    const auto [minimum, maximum] = m_client->backoffLimits();
    m_backoff.setLimits(minimum, maximum);
    m_backoff.reset();
    const QUrl server = m_client->serverUrl();
    if (!server.isValid() || server.host().isEmpty() || (server.scheme() != "http"_L1 && server.scheme() != "https"_L1)) {
        setState(ConnectionState::Unreachable,
                 tr("not an http:// or https:// server address: %1").arg(server.toDisplayString()));
        return;
    }
    setState(ConnectionState::Connecting);
    open();
}

void StreamSource::stop()
{
    m_active = false;
    m_retry.stop();
    closeSocket();
    setState(ConnectionState::Disconnected);
}

void StreamSource::refreshNow()
{
    if (m_active && state() == ConnectionState::Unreachable) {
        m_retry.stop();
        open();
    }
}

void StreamSource::closeSocket()
{
    ++m_generation;
    m_silence.stop();
    m_openTimeout.stop();
    m_synced = false;
    if (QWebSocket *socket = m_socket) {
        m_socket = nullptr;
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
}

void StreamSource::open()
{
    if (!m_active)
        return;
    closeSocket();
    m_handled = false;
    const quint64 generation = m_generation;
    auto *socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    socket->setMaxAllowedIncomingMessageSize(kMaxMessageBytes);
    socket->setMaxAllowedIncomingFrameSize(kMaxMessageBytes);
    m_socket = socket;
    connect(socket, &QWebSocket::textMessageReceived, this, [this, generation](const QString &message) {
        if (generation == m_generation)
            onMessage(message);
    });
    connect(socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
            [this, socket, generation](QAbstractSocket::SocketError) {
                if (generation == m_generation)
                    onLost(socket->errorString(), httpStatusIn(socket->errorString()));
            });
    connect(socket, &QWebSocket::disconnected, this, [this, socket, generation] {
        if (generation != m_generation)
            return;
        const QString why = socket->closeReason();
        onLost(why.isEmpty() ? tr("the server closed the event stream")
                             : tr("the server closed the event stream: %1").arg(why),
               0);
    });

    QString since;
    QString epoch;
    if (m_seq >= 0 && !m_epoch.isEmpty()) {
        since = QString::number(m_seq);
        epoch = m_epoch;
    }
    QNetworkRequest request(streamUrl(m_client->serverUrl(), since, epoch));
    if (m_client->hasToken())
        request.setRawHeader("Authorization", "Bearer " + m_client->token().toUtf8());
    m_openTimeout.start(m_client->requestTimeout());
    socket->open(request);
}

void StreamSource::onLost(const QString &reason, int httpStatus)
{
    if (m_handled || !m_active)
        return;
    m_handled = true;
    const bool wasSynced = m_synced;
    closeSocket();
    if (httpStatus == 401 || httpStatus == 403) {
        // Retrying a refused token only fills the server's log.
        setState(ConnectionState::Unauthorised,
                 m_client->hasToken() ? tr("the server refused the admin token (HTTP %1)").arg(httpStatus)
                                      : tr("the server needs an admin token (HTTP %1)").arg(httpStatus));
        return;
    }
    QString why = reason;
    if (httpStatus != 0 && !wasSynced) {
        why = tr("the server refused the event stream (HTTP %1)").arg(httpStatus);
        Q_EMIT unavailable(httpStatus, why);
        if (!m_active)
            return; // whoever listened polls instead
    }
    setState(ConnectionState::Unreachable, why);
    retryLater();
}

void StreamSource::retryLater()
{
    const auto delay = m_backoff.next();
    Q_EMIT retryScheduled(delay);
    m_retry.start(delay);
}

void StreamSource::resync(const QString &why)
{
    Q_EMIT notice(tr("The event stream skipped ahead (%1); reconnecting to fetch what was missed.").arg(why),
                  LogEntry::Severity::Warning);
    open();
}

void StreamSource::goLive()
{
    m_openTimeout.stop();
    m_synced = true;
    m_backoff.reset();
    if (m_figures.isDraining())
        setState(ConnectionState::Draining, tr("the server is shutting down"));
    else
        setState(ConnectionState::Connected);
}

void StreamSource::onMessage(const QString &message)
{
    m_silence.start(m_silenceLimit);
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(message.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject()) {
        resync(tr("an unreadable message"));
        return;
    }
    const QJsonObject o = doc.object();
    const QString type = o.value("type"_L1).toString();
    if (type == "snapshot"_L1)
        applySnapshot(o);
    else if (type == "resumed"_L1)
        applyResumed(o);
    else if (type == "change"_L1 && m_synced)
        applyChange(o);
}

void StreamSource::applySnapshot(const QJsonObject &o)
{
    const QString epoch = o.value("epoch"_L1).toString();
    const QDateTime at = fromMs(o.value("at"_L1));
    const bool restarted = !m_epoch.isEmpty() && epoch != m_epoch;
    const bool reset = o.value("reset"_L1).toBool();
    QList<adminapi::RoomInfo> rooms;
    m_rooms.clear();
    for (const QJsonValue &v : o.value("rooms"_L1).toArray()) {
        if (auto room = adminapi::RoomInfo::fromJson(v.toObject())) {
            m_rooms.insert(room->id, *room);
            rooms.append(*room);
        }
    }
    m_epoch = epoch;
    m_seq = o.value("seq"_L1).toInteger();
    if (restarted) {
        ++m_resets;
        Q_EMIT serverRestarted();
    } else if (reset) {
        ++m_resets;
        Q_EMIT notice(tr("The console was away too long for the server to replay what it missed: a fresh snapshot "
                         "replaced what was shown (the event log lacks the events of that time)."),
                      LogEntry::Severity::Warning);
    }
    applyCounters(o.value("counters"_L1).toObject(), at);
    Q_EMIT roomsReplaced(rooms, at);
    goLive();
}

void StreamSource::applyResumed(const QJsonObject &o)
{
    if (o.value("epoch"_L1).toString() != m_epoch || o.value("seq"_L1).toInteger() != m_seq) {
        // Not where this console stopped: start from a fresh snapshot.
        m_epoch.clear();
        m_seq = -1;
        resync(tr("the server resumed elsewhere"));
        return;
    }
    ++m_resumes;
    Q_EMIT notice(tr("Back on the event stream: the changes made meanwhile were replayed, none missed."),
                  LogEntry::Severity::Info);
    goLive();
}

void StreamSource::applyChange(const QJsonObject &o)
{
    if (o.value("epoch"_L1).toString() != m_epoch) {
        m_epoch.clear();
        m_seq = -1;
        resync(tr("another epoch"));
        return;
    }
    const qint64 seq = o.value("seq"_L1).toInteger();
    if (seq <= m_seq)
        return; // already applied
    if (seq != m_seq + 1) {
        resync(tr("changes %1 to %2 did not arrive").arg(m_seq + 1).arg(seq - 1));
        return;
    }
    m_seq = seq;
    const QDateTime at = fromMs(o.value("at"_L1));
    const QString change = o.value("change"_L1).toString();
    const QString roomId = o.value("roomId"_L1).toString();
    const QJsonObject summary = o.value("room"_L1).toObject();
    const QString connectionId = o.value("connectionId"_L1).toString();

    if (change == "counters"_L1) {
        applyCounters(o, at);
    } else if (change == "activity"_L1) {
        applyActivity(o, at);
    } else if (change == "server"_L1) {
        m_figures.status = o.value("status"_L1).toString();
        m_figures.timestamp = at;
        Q_EMIT figuresUpdated(m_figures);
        goLive();
    } else if (change == "event"_L1) {
        if (auto event = adminapi::Event::fromJson(o.value("event"_L1).toObject()))
            Q_EMIT eventsReceived({*event});
    } else if (change == "room_opened"_L1) {
        if (const adminapi::RoomInfo *room = mergeSummary(roomId, summary))
            Q_EMIT roomUpdated(*room, at);
        emitEvent(u"room_created"_s, o, at);
    } else if (change == "room_elsewhere"_L1) {
        // A room served only by other instances of a cluster, whole, as
        // their directory lists it: it replaces what was known of it.
        if (auto room = adminapi::RoomInfo::fromJson(summary)) {
            m_rooms.insert(room->id, *room);
            Q_EMIT roomUpdated(*room, at);
        }
    } else if (change == "room_closed"_L1) {
        emitEvent(u"room_closed"_s, o, at, o.value("reason"_L1).toString());
        m_rooms.remove(roomId);
        Q_EMIT roomRemoved(roomId, at);
    } else if (change == "participant_joined"_L1) {
        const auto p = adminapi::ParticipantInfo::fromJson(o.value("participant"_L1).toObject());
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        if (p && room) {
            // A resumed participant takes its own away place over, under its new connection.
            if (o.value("resumed"_L1).toBool()) {
                room->participants.removeIf(
                    [&p](const adminapi::ParticipantInfo &q) { return q.userId == p->userId && q.state == "away"_L1; });
            }
            room->waiting.removeIf([&p](const adminapi::ParticipantInfo &q) { return q.connectionId == p->connectionId; });
            room->participants.removeIf(
                [&p](const adminapi::ParticipantInfo &q) { return q.connectionId == p->connectionId; });
            room->participants.append(*p);
        }
        if (room)
            Q_EMIT roomUpdated(*room, at);
        emitEvent(u"join"_s, o, at, o.value("resumed"_L1).toBool() ? u"resumed"_s : QString(),
                  p ? p->userId : QString(), p ? p->connectionId : QString());
    } else if (change == "participant_left"_L1) {
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        if (room) {
            room->participants.removeIf(
                [&connectionId](const adminapi::ParticipantInfo &q) { return q.connectionId == connectionId; });
            Q_EMIT roomUpdated(*room, at);
        }
        emitEvent(u"leave"_s, o, at, o.value("reason"_L1).toString());
    } else if (change == "participant_away"_L1) {
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        QString userId;
        if (room) {
            for (auto &q : room->participants) {
                if (q.connectionId == connectionId) {
                    q.state = u"away"_s;
                    userId = q.userId;
                }
            }
            Q_EMIT roomUpdated(*room, at);
        }
        emitEvent(u"away"_s, o, at, {}, userId);
    } else if (change == "participant_waiting"_L1) {
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        if (room) {
            // The guest as the server describes it; an earlier server sent ids only.
            adminapi::ParticipantInfo guest =
                adminapi::ParticipantInfo::fromJson(o.value("participant"_L1).toObject()).value_or(adminapi::ParticipantInfo{});
            guest.connectionId = connectionId;
            if (guest.userId.isEmpty())
                guest.userId = text(o.value("userId"_L1));
            if (!guest.joinedAt.isValid())
                guest.joinedAt = at;
            if (!guest.lastActivity.isValid())
                guest.lastActivity = guest.joinedAt;
            guest.state = u"waiting"_s;
            room->waiting.removeIf(
                [&connectionId](const adminapi::ParticipantInfo &q) { return q.connectionId == connectionId; });
            room->waiting.append(guest);
            Q_EMIT roomUpdated(*room, at);
        }
        emitEvent(u"waiting"_s, o, at);
    } else if (change == "admission"_L1) {
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        if (room) {
            room->waiting.removeIf(
                [&connectionId](const adminapi::ParticipantInfo &q) { return q.connectionId == connectionId; });
            Q_EMIT roomUpdated(*room, at);
        }
        emitEvent(u"admission"_s, o, at, o.value("decision"_L1).toString());
    } else if (change == "join_refused"_L1) {
        emitEvent(u"join_denied"_s, o, at, o.value("code"_L1).toString());
    } else if (change == "room_settings"_L1) {
        adminapi::RoomInfo *room = mergeSummary(roomId, summary);
        if (room)
            Q_EMIT roomUpdated(*room, at);
        emitEvent(u"room_settings"_s, o, at,
                  u"waitingRoom=%1 locked=%2"_s.arg(o.value("waitingRoom"_L1).toString(),
                                                    o.value("locked"_L1).toString()),
                  text(o.value("by"_L1)));
    } else if (change == "consultation_ended"_L1) {
        emitEvent(u"consultation_ended"_s, o, at, o.value("reason"_L1).toString(), text(o.value("by"_L1)));
    }
    // Anything else is a change a newer server knows: skipped, in order.
    // (Rooms are passed on before the event, so whoever shows the event can
    // name the people in it.)
}

void StreamSource::applyCounters(const QJsonObject &counters, const QDateTime &at)
{
    const auto c = adminapi::Counters::fromJson(counters);
    if (!c)
        return;
    m_figures = ServerFigures::fromCounters(*c, at);
    Q_EMIT figuresUpdated(m_figures);
    ActivitySample sample;
    sample.time = at;
    sample.messagesInPerSecond = c->perSecond.messagesIn;
    sample.messagesOutPerSecond = c->perSecond.messagesOut;
    sample.connections = c->connections;
    sample.rooms = c->rooms;
    Q_EMIT activitySampled(sample);
    if (m_synced) {
        if (m_figures.isDraining() && state() != ConnectionState::Draining)
            setState(ConnectionState::Draining, tr("the server is shutting down"));
        else if (!m_figures.isDraining() && state() == ConnectionState::Draining)
            setState(ConnectionState::Connected);
    }
}

void StreamSource::applyActivity(const QJsonObject &o, const QDateTime &at)
{
    QList<adminapi::RoomInfo> touched;
    for (const QJsonValue &v : o.value("rooms"_L1).toArray()) {
        const QJsonArray entry = v.toArray(); // [roomId, lastActivity (ms), lastSeq]
        auto it = m_rooms.find(entry.at(0).toString());
        if (it == m_rooms.end())
            continue;
        it->lastActivity = QDateTime::fromMSecsSinceEpoch(entry.at(1).toInteger(), Qt::UTC);
        it->lastSeq = entry.at(2).toInteger();
        touched.append(*it);
    }
    if (!touched.isEmpty())
        Q_EMIT roomsUpdated(touched, at);
}

adminapi::RoomInfo *StreamSource::mergeSummary(const QString &roomId, const QJsonObject &summary)
{
    const auto parsed = summary.isEmpty() ? std::nullopt : adminapi::RoomInfo::fromJson(summary);
    auto it = m_rooms.find(roomId);
    if (it == m_rooms.end()) {
        if (!parsed || roomId.isEmpty())
            return nullptr;
        it = m_rooms.insert(roomId, *parsed);
        return &*it;
    }
    if (parsed) {
        // Summaries name no one: the people and counts kept here stay.
        adminapi::RoomInfo merged = *parsed;
        merged.participants = std::move(it->participants);
        merged.waiting = std::move(it->waiting);
        merged.messagesByType = std::move(it->messagesByType);
        *it = std::move(merged);
    }
    return &*it;
}

void StreamSource::emitEvent(const QString &kind, const QJsonObject &o, const QDateTime &at, const QString &detail,
                             const QString &userId, const QString &connectionId)
{
    adminapi::Event e;
    e.seq = m_seq;
    e.timestamp = at;
    e.kind = kind;
    e.roomId = o.value("roomId"_L1).toString();
    e.connectionId = connectionId.isEmpty() ? o.value("connectionId"_L1).toString() : connectionId;
    e.userId = userId.isEmpty() ? text(o.value("userId"_L1)) : userId;
    e.detail = detail;
    Q_EMIT eventsReceived({e});
}

} // namespace medrelay::console
