#include "controller/Consultation.h"

#include "core/AdminClient.h"
#include "core/Format.h"
#include "core/MessageCountsModel.h"
#include "core/ParticipantsModel.h"
#include "core/TimelineModel.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

namespace {

QString leaveReason(const QString &reason)
{
    if (reason == "left"_L1) return Consultation::tr("left");
    if (reason == "disconnected"_L1) return Consultation::tr("disconnected");
    if (reason == "timeout"_L1) return Consultation::tr("did not come back in time");
    if (reason == "removed"_L1) return Consultation::tr("was removed by a host");
    if (reason == "grant_revoked"_L1) return Consultation::tr("lost access to the room");
    if (reason == "room_closed"_L1) return Consultation::tr("room closed");
    if (reason == "consultation_ended"_L1) return Consultation::tr("consultation ended");
    return reason;
}

QString onOff(const QString &settings, const QString &name)
{
    // "waitingRoom=on locked=off"
    for (const QString &part : settings.split(u' ', Qt::SkipEmptyParts)) {
        if (part.startsWith(name + u'='))
            return part.mid(name.size() + 1);
    }
    return u"?"_s;
}

} // namespace

Consultation::Consultation(AdminClient *client, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_participants(new ParticipantsModel(ParticipantsModel::Kind::Members, this))
    , m_waiting(new ParticipantsModel(ParticipantsModel::Kind::WaitingGuests, this))
    , m_messages(new MessageCountsModel(this))
    , m_timeline(new TimelineModel(this))
{
    m_refresh.setInterval(2s);
    connect(&m_refresh, &QTimer::timeout, this, &Consultation::refresh);
    connect(m_client, &AdminClient::roomFetched, this, &Consultation::onFetched);
}

Consultation::~Consultation() = default;

void Consultation::setRefreshInterval(std::chrono::milliseconds interval)
{
    m_refresh.setInterval(interval);
}

void Consultation::open(const QString &roomId, const adminapi::RoomInfo *known, const QDateTime &serverNow)
{
    if (roomId.isEmpty())
        return;
    if (roomId != m_roomId)
        close();
    m_roomId = roomId;
    m_gone = false;
    m_goneReason.clear();
    m_fetched = false;
    m_fetchError.clear();
    m_introduced = false;
    m_timeline->clear();
    m_names.clear();
    m_now = serverNow.isValid() ? serverNow : QDateTime::currentDateTimeUtc();
    m_participants->setRoom({}, {});
    m_waiting->setRoom({}, {});
    m_messages->clear();
    m_room.reset();
    if (known)
        apply(*known);
    Q_EMIT opened(roomId);
    refresh();
    if (m_live)
        m_refresh.start();
    Q_EMIT changed();
}

void Consultation::close()
{
    if (m_roomId.isEmpty())
        return;
    m_refresh.stop();
    m_roomId.clear();
    m_room.reset();
    m_names.clear();
    m_participants->setRoom({}, {});
    m_waiting->setRoom({}, {});
    m_messages->clear();
    m_timeline->clear();
    m_gone = false;
    Q_EMIT closed();
}

void Consultation::setLive(bool live)
{
    m_live = live;
    if (live && isOpen() && !m_gone) {
        if (!m_refresh.isActive()) {
            m_refresh.start();
            refresh();
        }
    } else {
        m_refresh.stop();
    }
}

void Consultation::refresh()
{
    if (isOpen() && !m_gone)
        m_client->fetchRoom(m_roomId);
}

qint64 Consultation::durationSeconds() const
{
    if (!m_room || !m_room->createdAt.isValid() || !m_now.isValid())
        return 0;
    return std::max<qint64>(0, m_room->createdAt.secsTo(m_now));
}

void Consultation::setNow(const QDateTime &serverNow)
{
    if (!isOpen() || !serverNow.isValid() || serverNow == m_now)
        return;
    m_now = serverNow;
    Q_EMIT changed();
}

void Consultation::onFetched(const QString &roomId, const std::optional<adminapi::RoomInfo> &room, int status,
                             const QString &error)
{
    if (roomId != m_roomId || m_gone)
        return;
    if (room) {
        m_fetched = true;
        m_fetchError.clear();
        apply(*room);
        introduce();
        return;
    }
    m_fetched = false;
    m_fetchError = error;
    if (status == 404 && !m_room) {
        // Nothing known of it anywhere: there is no such room.
        m_gone = true;
        m_goneReason = tr("no such room");
        m_refresh.stop();
        note(m_now, u"console"_s, tr("There is no room %1 on this server.").arg(roomId));
    }
    // Otherwise (an older server without GET /admin/rooms/{id}, a failure)
    // what the rooms table knows stays on show.
    introduce();
    Q_EMIT changed();
}

void Consultation::remember(const QList<adminapi::ParticipantInfo> &people)
{
    for (const auto &p : people) {
        if (!p.userName.isEmpty())
            m_names.insert(p.connectionId, p.userName);
    }
}

void Consultation::apply(adminapi::RoomInfo room)
{
    // A change's room (from the stream) carries no names for waiting guests
    // and no message counts: keep what a fetch told.
    for (auto *people : {&room.participants, &room.waiting}) {
        for (auto &p : *people) {
            if (p.userName.isEmpty())
                p.userName = m_names.value(p.connectionId);
        }
    }
    if (room.messagesByType.isEmpty() && m_room)
        room.messagesByType = m_room->messagesByType;
    remember(room.participants);
    remember(room.waiting);
    m_room = room;
    m_participants->setRoom(room.id, room.participants);
    m_waiting->setRoom(room.id, room.waiting);
    m_messages->setCounts(room.messagesByType);
    Q_EMIT changed();
}

void Consultation::introduce()
{
    // The first line: who was there when watching began (from the fetch,
    // or what the rooms table knew when the server could not answer it).
    if (m_introduced || !m_room)
        return;
    m_introduced = true;
    QStringList names;
    for (const auto &p : std::as_const(m_room->participants))
        names.append(who(p.connectionId, p.userId));
    const QString present = names.isEmpty() ? tr("nobody") : names.join(u", "_s);
    const int count = static_cast<int>(m_room->participants.size());
    note(m_now, u"console"_s,
         m_room->waiting.isEmpty()
             ? tr("Watching from here: %n participant(s) present (%1).", nullptr, count).arg(present)
             : tr("Watching from here: %n participant(s) present (%1), %2 waiting.", nullptr, count)
                   .arg(present)
                   .arg(m_room->waiting.size()));
}

void Consultation::roomUpdated(const adminapi::RoomInfo &room, const QDateTime &serverNow)
{
    if (room.id != m_roomId)
        return;
    if (serverNow.isValid())
        m_now = serverNow;
    if (m_gone) {
        // The same id opened again: a new consultation under it.
        m_gone = false;
        m_goneReason.clear();
        if (m_live)
            m_refresh.start();
    }
    apply(room);
}

void Consultation::roomRemoved(const QString &roomId, const QDateTime &serverNow)
{
    if (roomId != m_roomId || m_gone)
        return;
    if (serverNow.isValid())
        m_now = serverNow;
    m_gone = true;
    if (m_goneReason.isEmpty())
        m_goneReason = tr("the room closed");
    m_refresh.stop();
    m_participants->setRoom(roomId, {});
    m_waiting->setRoom(roomId, {});
    Q_EMIT changed();
}

void Consultation::eventsReceived(const QList<adminapi::Event> &events)
{
    if (!isOpen())
        return;
    for (const auto &e : events) {
        if (e.roomId != m_roomId)
            continue;
        const QString text = describe(e);
        if (text.isEmpty())
            continue;
        if (e.kind == "consultation_ended"_L1)
            m_goneReason = tr("the consultation ended (%1)").arg(e.detail);
        note(e.timestamp, e.kind, text, e.connectionId);
    }
}

void Consultation::note(const QDateTime &time, const QString &kind, const QString &text, const QString &connectionId)
{
    m_timeline->append({time.isValid() ? time : QDateTime::currentDateTimeUtc(), kind, text, connectionId});
}

QString Consultation::who(const QString &connectionId, const QString &userId) const
{
    QString name = m_names.value(connectionId);
    if (name.isEmpty() && connectionId.isEmpty() && !userId.isEmpty() && m_room) {
        // A change that names the user only (settings, by whom): the one present under that id.
        for (const auto &p : std::as_const(m_room->participants)) {
            if (p.userId == userId && !p.userName.isEmpty())
                name = p.userName;
        }
    }
    if (!name.isEmpty())
        return userId.isEmpty() ? name : tr("%1 (user %2)").arg(name, userId);
    if (!userId.isEmpty())
        return tr("user %1").arg(userId);
    return connectionId.isEmpty() ? tr("someone") : tr("connection %1").arg(connectionId);
}

QString Consultation::describe(const adminapi::Event &e) const
{
    const QString person = who(e.connectionId, e.userId);
    if (e.kind == "join"_L1)
        return e.detail == "resumed"_L1 ? tr("%1 came back (resumed their place)").arg(person)
                                        : tr("%1 joined").arg(person);
    if (e.kind == "leave"_L1)
        return e.detail == "left"_L1 || e.detail.isEmpty() ? tr("%1 left").arg(person)
                                                            : tr("%1 left: %2").arg(person, leaveReason(e.detail));
    if (e.kind == "away"_L1)
        return tr("%1 lost their connection; their place is kept for a while").arg(person);
    if (e.kind == "waiting"_L1)
        return tr("%1 is waiting to be admitted").arg(person);
    if (e.kind == "admission"_L1) {
        if (e.detail == "admitted"_L1)
            return tr("%1 was admitted").arg(person);
        if (e.detail == "denied"_L1)
            return tr("%1 was not admitted").arg(person);
        return tr("%1 stopped waiting").arg(person);
    }
    if (e.kind == "join_denied"_L1)
        return tr("%1 could not join (%2)").arg(person, e.detail);
    if (e.kind == "room_settings"_L1) {
        const QString waiting = onOff(e.detail, u"waitingRoom"_s) == "on"_L1 ? tr("on") : tr("off");
        const QString locked = onOff(e.detail, u"locked"_s) == "on"_L1 ? tr("locked") : tr("unlocked");
        return tr("Settings changed by %1: waiting room %2, %3").arg(who(e.connectionId, e.userId), waiting, locked);
    }
    if (e.kind == "consultation_ended"_L1)
        return tr("The consultation ended (%1)").arg(e.detail);
    if (e.kind == "room_closed"_L1)
        return tr("The room closed (%1)").arg(e.detail);
    if (e.kind == "room_created"_L1)
        return tr("The room opened");
    if (e.kind == "admin"_L1)
        return tr("Administrator: %1").arg(e.detail);
    return {};
}

} // namespace medrelay::console
