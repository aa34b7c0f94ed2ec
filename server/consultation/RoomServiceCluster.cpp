// The room service's cluster half: rooms whose members sit on several
// instances (see RoomService.h and ClusterLink.h). Only used when a
// ClusterLink is set.

#include "consultation/Fanout.h"
#include "consultation/RoomMessages.h"
#include "consultation/RoomService.h"
#include "consultation/Stamp.h"

#include <QDateTime>
#include <QJsonObject>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcRooms)

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;
using namespace roommessages;

namespace {

// What the outage journal holds at most, besides RoomConfig::outageMessages
// per room: bytes per room and in all. Beyond it, chat and whiteboard are
// refused (history_unavailable) until the link is back, as in a room with
// members elsewhere.
constexpr qint64 kJournalMaxRoomBytes = qint64(4) * 1024 * 1024;
constexpr qint64 kJournalMaxBytes = qint64(32) * 1024 * 1024;

// Members (or guests) of a room's shared state by connection id.
QHash<QString, const SharedMember *> byConnection(const QList<SharedMember> &people)
{
    QHash<QString, const SharedMember *> out;
    out.reserve(people.size());
    for (const SharedMember &p : people)
        out.insert(p.connectionId, &p);
    return out;
}

// Who sent a stored message read back from the store: its fromConnectionId.
QString senderOf(const QByteArray &body)
{
    protocol::JsonObjectView view;
    if (protocol::JsonObjectView::scan(body, view))
        return {};
    const protocol::JsonMember *m = view.find("fromConnectionId"_L1);
    return m ? view.string(*m) : QString();
}

} // namespace

void RoomService::setClusterLink(ClusterLink *link)
{
    m_cluster = link;
    if (m_cluster)
        m_cluster->setSink(this);
}

SharedMember RoomService::sharedOf(const Member &member) const
{
    SharedMember s;
    s.connectionId = member.connectionId;
    s.instance = member.isLocal() ? m_cluster->instanceId() : member.instance;
    s.identity.userId = member.identity.userId;
    s.identity.userName = member.identity.userName;
    s.identity.role = member.identity.role;
    s.host = member.host;
    s.joinedAtMs = member.joinedAtMs;
    s.away = member.state == MemberState::Away;
    s.awayUntilMs = member.awayUntilMs;
    return s;
}

SharedMember RoomService::sharedOf(const WaitingGuest &guest) const
{
    SharedMember s;
    s.connectionId = guest.connectionId;
    s.instance = guest.isLocal() ? m_cluster->instanceId() : guest.instance;
    s.identity.userId = guest.identity.userId;
    s.identity.userName = guest.identity.userName;
    s.identity.role = guest.identity.role;
    s.joinedAtMs = guest.sinceMs;
    return s;
}

SharedJoin RoomService::sharedDefaults(const Room &room) const
{
    SharedJoin j;
    j.roomId = room.id();
    j.appointmentId = room.appointmentId();
    j.maxParticipants = m_config.maxParticipantsPerRoom;
    j.waitingRoomByDefault = m_config.waitingRoomByDefault;
    j.endsAtMs = m_config.maxConsultationMs > 0 ? room.endsAtMs() : 0;
    return j;
}

void RoomService::announceJoined(Room &room, const QString &connectionId)
{
    const Member *member = room.member(connectionId);
    if (!member)
        return;
    QByteArray text("{\"type\":\"telemedicine_user_joined\",\"roomId\":");
    protocol::appendJsonString(text, room.id());
    text.append(",\"appointmentId\":");
    text.append(QByteArray::number(room.appointmentId()));
    text += ',' + member->stamp + ",\"timestamp\":" + QByteArray::number(nowMs()) + '}';
    deliver(room, room.recipients(connectionId, std::nullopt), OutboundMessage(MessageKind::UserJoined, text));
}

void RoomService::forgetShared(const QString &roomId)
{
    m_sync.remove(roomId);
    m_cluster->releaseRoom(roomId);
}

// ---------------------------------------------------------------- opening

void RoomService::openShared(const QString &roomId)
{
    m_sync[roomId] = SharedSync{};
    m_cluster->openRoom(roomId, this, [this, roomId](const SharedRoom &shared) { onSharedOpened(roomId, shared); });
}

void RoomService::onSharedOpened(const QString &roomId, const SharedRoom &shared)
{
    Room *room = roomOf(roomId);
    if (!room || !room->isOpening())
        return;
    if (!shared.ok) {
        qCWarning(lcRooms) << "room" << roomId << "cannot be opened:" << shared.error;
        const QList<std::function<void()>> waiting = m_opening.take(roomId);
        m_rooms.remove(roomId);
        forgetShared(roomId);
        delete room;
        m_unreachable.insert(roomId);
        for (const auto &fn : waiting)
            fn();
        m_unreachable.remove(roomId);
        return;
    }
    applyShared(*room, shared, false);
    // Then where its seq stands: stored messages after it arrive on the
    // channel, which is live already.
    m_history.room(roomId, this, [this, roomId](const store::RoomRecord &record) {
        if (!record.ok)
            qCWarning(lcRooms) << "history store has no record for room" << roomId << ":" << record.error;
        onRoomRecord(roomId, record.ok ? record.lastSeq : 0, record.ok ? record.refuseJoinsUntilMs : 0);
    });
}

// The shared state replaces what this instance knew of the other instances'
// members and guests; its own it knows better. With `announce` (a resync),
// the local members are told who came and went meanwhile.
void RoomService::applyShared(Room &room, const SharedRoom &shared, bool announce, bool keepMissing)
{
    room.m_version = shared.version;
    if (shared.exists) {
        room.m_appointmentId = shared.appointmentId;
        if (shared.createdAtMs > 0)
            room.m_createdAtMs = shared.createdAtMs;
        if (shared.endsAtMs > 0)
            room.m_endsAtMs = shared.endsAtMs;
        const bool settingsChanged = room.m_waitingRoom != shared.waitingRoom || room.m_locked != shared.locked;
        room.m_waitingRoom = shared.waitingRoom;
        room.m_locked = shared.locked;
        if (announce && settingsChanged) {
            deliver(room, room.recipients(QString(), std::nullopt),
                    notice(MessageKind::RoomSettingsChanged, {{u"roomId"_s, room.id()},
                                                              {u"waitingRoom"_s, room.waitingRoom()},
                                                              {u"locked"_s, room.locked()}}));
        }
    }
    room.m_removedUsers = QSet<QString>(shared.removedUsers.cbegin(), shared.removedUsers.cend());
    const QString &self = m_cluster->instanceId();
    const QHash<QString, const SharedMember *> members = byConnection(shared.members);
    const QString roomId = room.id();
    // Gone meanwhile.
    const QList<Member> before = room.members();
    for (const Member &m : before) {
        if (m.isLocal() || members.contains(m.connectionId) || keepMissing)
            continue;
        if (announce) {
            removeMember(room, m.connectionId, u"disconnected"_s);
            if (!roomOf(roomId))
                return;
        } else {
            room.m_members.removeIf([&](const Member &x) { return x.connectionId == m.connectionId; });
        }
    }
    // Arrived or changed meanwhile.
    for (const SharedMember &s : shared.members) {
        if (s.instance == self)
            continue;
        if (Member *m = room.member(s.connectionId)) {
            m->host = s.host;
            m->state = s.away ? MemberState::Away : MemberState::Active;
            m->awayUntilMs = s.awayUntilMs;
            continue;
        }
        addRemoteMember(room, s, QByteArray(), false);
        if (announce)
            announceJoined(room, s.connectionId);
    }
    // Waiting guests of the other instances.
    const QHash<QString, const SharedMember *> waiting = byConnection(shared.waiting);
    room.m_waiting.removeIf([&](const WaitingGuest &g) { return !g.isLocal() && !waiting.contains(g.connectionId); });
    for (const SharedMember &g : shared.waiting) {
        if (g.instance == self || room.waitingGuest(g.connectionId))
            continue;
        WaitingGuest guest;
        guest.connectionId = g.connectionId;
        guest.identity.userId = g.identity.userId;
        guest.identity.userName = g.identity.userName;
        guest.identity.role = g.identity.role;
        guest.sinceMs = g.joinedAtMs;
        guest.instance = g.instance;
        room.m_waiting.append(guest);
        if (announce) {
            sendToHosts(room, notice(MessageKind::AdmissionRequest,
                                     {{u"roomId"_s, room.id()},
                                      {u"connectionId"_s, guest.connectionId},
                                      {u"userId"_s, protocol::userIdToJson(guest.identity.userId)},
                                      {u"userName"_s, guest.identity.userName}}));
        }
    }
}

void RoomService::addRemoteMember(Room &room, const SharedMember &s, const QByteArray &announcement, bool resumed)
{
    Member m;
    m.connectionId = s.connectionId;
    m.identity.userId = s.identity.userId;
    m.identity.userName = s.identity.userName;
    m.identity.role = s.identity.role;
    m.stamp = senderFields(m.identity, m.connectionId);
    m.host = s.host;
    m.state = s.away ? MemberState::Away : MemberState::Active;
    m.joinedAtMs = s.joinedAtMs;
    m.lastActivityMs = nowMs();
    m.instance = s.instance;
    m.awayUntilMs = s.awayUntilMs;
    room.m_members.append(m);
    publish(events::MemberJoined{room.id(), room.appointmentId(), m.connectionId, m.identity.userId, m.identity.role,
                                 m.host, resumed},
            true);
    if (!announcement.isEmpty()) {
        room.m_lastActivityMs = nowMs();
        deliver(room, room.recipients(m.connectionId, std::nullopt),
                OutboundMessage(MessageKind::UserJoined, announcement));
    }
}

// ---------------------------------------------------------------- joining

void RoomService::joinShared(const std::shared_ptr<JoinTicket> &ticket, Room &room)
{
    const Request &request = ticket->request;
    Peer *peer = request.peer();
    const QString roomId = room.id();
    if (!m_cluster->available()) {
        refuseJoin(request, roomId, ErrorCode::ClusterUnavailable,
                   u"room '%1' cannot be joined now: the cluster is unavailable; try again"_s.arg(roomId));
        deleteIfEmpty(roomId);
        return;
    }
    const QString cid = peer->connectionId();
    const qint64 now = nowMs();
    SharedJoin j = sharedDefaults(room);
    j.appointmentId = ticket->message.appointmentId;
    j.member.connectionId = cid;
    j.member.instance = m_cluster->instanceId();
    j.member.identity.userId = peer->identity().userId;
    j.member.identity.userName = peer->identity().userName;
    j.member.identity.role = peer->identity().role;
    j.member.host = m_access.isHost(peer->identity());
    j.member.joinedAtMs = now;
    const QByteArray appointment = "\"appointmentId\":" + QByteArray::number(j.appointmentId);
    j.announcement = stampRelayed(ticket->envelope.json, senderFields(peer->identity(), cid), now,
                                  {"appointmentId"_L1, "lastSeq"_L1}, appointment);
    m_sync[roomId].joins.insert(cid, ticket);
    m_cluster->join(j, this, [this, roomId, cid](const JoinDecision &d) { onJoinDecided(roomId, cid, d); });
}

void RoomService::onJoinDecided(const QString &roomId, const QString &cid, const JoinDecision &d)
{
    auto sync = m_sync.find(roomId);
    const std::shared_ptr<JoinTicket> ticket = sync != m_sync.end() ? sync->joins.value(cid) : nullptr;
    Room *room = roomOf(roomId);
    switch (d.outcome) {
    case JoinDecision::Outcome::Joined:
    case JoinDecision::Outcome::Resumed:
    case JoinDecision::Outcome::Waiting:
        if (ticket)
            ticket->decided = true;
        // The change does the rest, here as everywhere. Should it not come
        // (lost on the channel), fetch the room again.
        if (ticket && room && room->m_version < d.version) {
            QTimer::singleShot(3000, this, [this, roomId, cid, version = d.version] {
                Room *r = roomOf(roomId);
                const auto s = m_sync.constFind(roomId);
                if (r && s != m_sync.cend() && s->joins.contains(cid) && r->m_version < version)
                    resync(roomId);
            });
        }
        return;
    case JoinDecision::Outcome::AlreadyMember:
        if (sync != m_sync.end())
            sync->joins.remove(cid);
        if (ticket && room) {
            const Member *m = room->member(cid);
            if (m && m->state == MemberState::Active)
                fetchRoomState(*room, cid, ticket->message.lastSeq, ticket->request.requestId());
        }
        return;
    case JoinDecision::Outcome::AlreadyWaiting:
        if (sync != m_sync.end())
            sync->joins.remove(cid);
        if (ticket)
            ticket->request.reply(MessageKind::Waiting,
                                  {{u"type"_s, kindName(MessageKind::Waiting)}, {u"roomId"_s, roomId}});
        return;
    case JoinDecision::Outcome::Refused:
    case JoinDecision::Outcome::Failed:
        break;
    }
    if (sync != m_sync.end())
        sync->joins.remove(cid);
    if (ticket) {
        QString text;
        ErrorCode code = d.outcome == JoinDecision::Outcome::Failed ? ErrorCode::ClusterUnavailable : d.refusal;
        switch (code) {
        case ErrorCode::ConsultationEnded:
            text = u"the consultation in room '%1' has ended"_s.arg(roomId);
            break;
        case ErrorCode::AppointmentMismatch:
            text = u"room '%1' belongs to another appointment"_s.arg(roomId);
            break;
        case ErrorCode::Forbidden:
            text = u"a host removed this user from the consultation in room '%1'"_s.arg(roomId);
            break;
        case ErrorCode::RoomLocked:
            text = u"room '%1' is locked"_s.arg(roomId);
            break;
        case ErrorCode::RoomFull:
            text = u"room '%1' is full"_s.arg(roomId);
            break;
        default:
            code = ErrorCode::ClusterUnavailable;
            text = u"room '%1' cannot be joined now: the cluster is unavailable; try again"_s.arg(roomId);
            break;
        }
        refuseJoin(ticket->request, roomId, code, text);
    }
    deleteIfEmpty(roomId);
}

void RoomService::enterLocal(Room &room, Peer &peer, const SharedMember &shared, const QByteArray &announcement,
                             std::optional<qint64> lastSeq, const QJsonValue &requestId)
{
    const qint64 now = nowMs();
    const QString cid = peer.connectionId();
    Member member;
    member.peer = &peer;
    member.connectionId = cid;
    member.identity = peer.identity();
    member.stamp = senderFields(member.identity, cid);
    member.host = shared.host;
    member.state = MemberState::Joining;
    member.joinedAtMs = shared.joinedAtMs > 0 ? shared.joinedAtMs : now;
    member.lastActivityMs = now;
    room.m_members.append(member);
    room.m_lastActivityMs = now;
    index(cid, room.id());
    qCInfo(lcRooms) << "join" << room.id() << cid;
    publish(events::MemberJoined{room.id(), room.appointmentId(), cid, member.identity.userId, member.identity.role,
                                 member.host, false});
    if (!announcement.isEmpty())
        deliver(room, room.recipients(cid, std::nullopt), OutboundMessage(MessageKind::UserJoined, announcement));
    fetchRoomState(room, cid, lastSeq, requestId);
}

// ---------------------------------------------------------------- changes

void RoomService::roomChanged(const QString &roomId, const RoomChange &change)
{
    Room *room = roomOf(roomId);
    if (!room)
        return;
    SharedSync &sync = m_sync[roomId];
    if (room->isOpening() || sync.resyncing) {
        // Held whatever their number: after a loss of the shared state the
        // numbering starts again below what this instance knew.
        sync.pending.insert_or_assign(change.version, change);
        return;
    }
    if (change.version <= room->m_version)
        return;
    sync.pending.insert_or_assign(change.version, change);
    drainPending(roomId);
}

void RoomService::drainPending(const QString &roomId)
{
    for (;;) {
        Room *room = roomOf(roomId);
        auto sync = m_sync.find(roomId);
        if (!room || sync == m_sync.end() || sync->resyncing || room->isOpening())
            return;
        auto &pending = sync->pending;
        while (!pending.empty() && pending.begin()->first <= room->m_version)
            pending.erase(pending.begin());
        if (pending.empty())
            return;
        if (pending.begin()->first != room->m_version + 1) {
            // A change went missing on the channel: everything anew.
            qCWarning(lcRooms) << "room" << roomId << "missed changes" << room->m_version + 1 << "to"
                               << pending.begin()->first - 1 << "; fetching it again";
            resync(roomId);
            return;
        }
        const RoomChange change = pending.begin()->second;
        pending.erase(pending.begin());
        room->m_version = change.version;
        const bool remote = change.origin != m_cluster->instanceId();
        m_applyingRemote = remote;
        applyChange(*room, change);
        m_applyingRemote = false;
    }
}

void RoomService::applyChange(Room &room, const RoomChange &c)
{
    const QString roomId = room.id();
    const QString &self = m_cluster->instanceId();
    const events::Actor by{c.byConnection, c.by};
    switch (c.type) {
    case RoomChange::Type::Joined: {
        if (room.member(c.member.connectionId))
            return;
        if (c.member.instance != self) {
            addRemoteMember(room, c.member, c.text, false);
            // Written back by its instance after an outage (no text of its
            // own): the others were told it left, so they are told it is back.
            if (c.text.isEmpty()) {
                room.m_lastActivityMs = nowMs();
                announceJoined(room, c.member.connectionId);
            }
            return;
        }
        const auto ticket = m_sync[roomId].joins.take(c.member.connectionId);
        Peer *peer = ticket ? ticket->request.peer() : nullptr;
        if (!peer) {
            // Joined, but its socket closed meanwhile.
            m_cluster->left(roomId, c.member.connectionId, u"disconnected"_s, {}, {});
            return;
        }
        enterLocal(room, *peer, c.member, c.text, ticket->message.lastSeq, ticket->request.requestId());
        return;
    }
    case RoomChange::Type::Resumed: {
        Member *old = room.member(c.connectionId);
        if (c.member.instance == self) {
            const auto ticket = m_sync[roomId].joins.take(c.member.connectionId);
            Peer *peer = ticket ? ticket->request.peer() : nullptr;
            if (!peer) {
                m_cluster->left(roomId, c.member.connectionId, u"disconnected"_s, {}, {});
                if (old)
                    room.m_members.removeIf([&](const Member &m) { return m.connectionId == c.connectionId; });
                return;
            }
            if (!old) {
                enterLocal(room, *peer, c.member, {}, ticket->message.lastSeq, ticket->request.requestId());
                return;
            }
            delete old->graceTimer;
            old->graceTimer = nullptr;
            old->peer = peer;
            old->connectionId = peer->connectionId();
            old->identity = peer->identity();
            old->stamp = senderFields(old->identity, old->connectionId);
            old->host = c.member.host;
            old->state = MemberState::Joining;
            old->lastActivityMs = nowMs();
            old->instance.clear();
            old->awayUntilMs = 0;
            index(old->connectionId, roomId);
            qCInfo(lcRooms) << "resumed" << roomId << old->connectionId;
            publish(events::MemberJoined{roomId, room.appointmentId(), old->connectionId, old->identity.userId,
                                         old->identity.role, old->host, true});
            fetchRoomState(room, old->connectionId, ticket->message.lastSeq, ticket->request.requestId());
            return;
        }
        if (!old) {
            addRemoteMember(room, c.member, {}, true);
            return;
        }
        // Its place, kept here while it was away, is taken over elsewhere.
        delete old->graceTimer;
        old->graceTimer = nullptr;
        old->peer = nullptr;
        old->held.clear();
        old->heldBytes = 0;
        old->connectionId = c.member.connectionId;
        old->identity.userId = c.member.identity.userId;
        old->identity.userName = c.member.identity.userName;
        old->identity.role = c.member.identity.role;
        old->stamp = senderFields(old->identity, old->connectionId);
        old->host = c.member.host;
        old->state = MemberState::Active;
        old->instance = c.member.instance;
        old->awayUntilMs = 0;
        publish(events::MemberJoined{roomId, room.appointmentId(), old->connectionId, old->identity.userId,
                                     old->identity.role, old->host, true},
                true);
        return;
    }
    case RoomChange::Type::Waiting: {
        const QString &cid = c.member.connectionId;
        if (room.waitingGuest(cid) || room.member(cid))
            return;
        if (c.member.instance == self) {
            const auto ticket = m_sync[roomId].joins.take(cid);
            Peer *peer = ticket ? ticket->request.peer() : nullptr;
            if (!peer) {
                m_cluster->cancelWaiting(roomId, cid);
                return;
            }
            addWaiting(room, *peer, ticket->envelope, ticket->message, ticket->request.requestId());
            return;
        }
        WaitingGuest guest;
        guest.connectionId = cid;
        guest.identity.userId = c.member.identity.userId;
        guest.identity.userName = c.member.identity.userName;
        guest.identity.role = c.member.identity.role;
        guest.sinceMs = c.member.joinedAtMs;
        guest.instance = c.member.instance;
        room.m_waiting.append(guest);
        sendToHosts(room, notice(MessageKind::AdmissionRequest,
                                 {{u"roomId"_s, roomId},
                                  {u"connectionId"_s, cid},
                                  {u"userId"_s, protocol::userIdToJson(guest.identity.userId)},
                                  {u"userName"_s, guest.identity.userName}}));
        publish(events::GuestWaiting{roomId, room.appointmentId(), cid, guest.identity.userId});
        return;
    }
    case RoomChange::Type::Admitted: {
        const QString &cid = c.member.connectionId;
        const WaitingGuest *found = room.waitingGuest(cid);
        const std::optional<WaitingGuest> guest = found ? std::optional<WaitingGuest>(*found) : std::nullopt;
        if (found)
            room.m_waiting.removeIf([&](const WaitingGuest &g) { return g.connectionId == cid; });
        sendToHosts(room, notice(MessageKind::AdmissionResolved, {{u"roomId"_s, roomId},
                                                                  {u"connectionId"_s, cid},
                                                                  {u"decision"_s, u"admitted"_s}}));
        publish(events::AdmissionDecided{roomId, room.appointmentId(), cid, c.member.identity.userId, u"admitted"_s,
                                         by});
        if (room.member(cid))
            return;
        if (c.member.instance != self) {
            // Its own instance announces it.
            addRemoteMember(room, c.member, {}, false);
            return;
        }
        if (!guest || !guest->peer) {
            m_cluster->left(roomId, cid, u"disconnected"_s, {}, {});
            return;
        }
        Peer &peer = *guest->peer;
        peer.send(notice(MessageKind::Admitted, {{u"roomId"_s, roomId}}));
        const qint64 now = nowMs();
        const QByteArray appointment = "\"appointmentId\":" + QByteArray::number(room.appointmentId());
        const QByteArray text = stampRelayed(guest->join, senderFields(peer.identity(), cid), now,
                                             {"appointmentId"_L1, "lastSeq"_L1}, appointment);
        SharedMember entering = c.member;
        enterLocal(room, peer, entering, text, guest->lastSeq, guest->requestId);
        m_cluster->relay(roomId, MessageKind::UserJoined, cid, {}, text);
        return;
    }
    case RoomChange::Type::Resolved: {
        const WaitingGuest *g = room.waitingGuest(c.connectionId);
        if (!g)
            return;
        if (g->peer && c.decision == u"denied"_s)
            g->peer->send(notice(MessageKind::Denied, {{u"roomId"_s, roomId}}));
        removeWaiting(room, c.connectionId, c.decision, by);
        return;
    }
    case RoomChange::Type::Left: {
        Member *m = room.member(c.connectionId);
        if (!m)
            return;
        if (m->isLocal() && m->peer) {
            // This instance was taken for dead (its presence lapsed): its
            // member is still here. Tell the others again.
            m_sync[roomId].reassert = true;
            resync(roomId);
            return;
        }
        removeMember(room, c.connectionId, c.reason, c.text, by);
        return;
    }
    case RoomChange::Type::Away: {
        Member *m = room.member(c.connectionId);
        if (!m)
            return;
        if (m->isLocal()) {
            if (m->peer) {
                m_sync[roomId].reassert = true;
                resync(roomId);
            }
            return;
        }
        m->state = MemberState::Away;
        m->awayUntilMs = c.awayUntilMs;
        publish(events::MemberAway{roomId, room.appointmentId(), m->connectionId, m->identity.userId});
        return;
    }
    case RoomChange::Type::Back: {
        Member *m = room.member(c.connectionId);
        if (m && !m->isLocal()) {
            m->state = MemberState::Active;
            m->awayUntilMs = 0;
        }
        return;
    }
    case RoomChange::Type::Removed: {
        if (!c.userId.isEmpty())
            room.m_removedUsers.insert(c.userId);
        for (const QString &cid : c.connectionIds) {
            Room *r = roomOf(roomId);
            const Member *m = r ? r->member(cid) : nullptr;
            if (!m)
                continue;
            if (m->peer)
                m->peer->send(notice(MessageKind::Removed, {{u"roomId"_s, roomId},
                                                            {u"by"_s, protocol::userIdToJson(c.by)}}));
            removeMember(*r, cid, u"removed"_s, {}, by);
        }
        return;
    }
    case RoomChange::Type::Settings: {
        room.m_waitingRoom = c.waitingRoom;
        room.m_locked = c.locked;
        publish(events::SettingsChanged{roomId, room.appointmentId(), c.waitingRoom, c.locked, by});
        deliver(room, room.recipients(QString(), std::nullopt),
                notice(MessageKind::RoomSettingsChanged, {{u"roomId"_s, roomId},
                                                          {u"waitingRoom"_s, c.waitingRoom},
                                                          {u"locked"_s, c.locked},
                                                          {u"by"_s, protocol::userIdToJson(c.by)}},
                       c.requestId));
        return;
    }
    case RoomChange::Type::Ended: {
        qCInfo(lcRooms) << "consultation ended" << roomId << c.reason;
        publish(events::ConsultationEnded{roomId, room.appointmentId(), c.reason, by,
                                          m_config.historyRetentionMs <= 0});
        const OutboundMessage ended = notice(MessageKind::ConsultationEnded,
                                             {{u"roomId"_s, roomId},
                                              {u"endedBy"_s, protocol::userIdToJson(c.endedBy)},
                                              {u"reason"_s, c.reason},
                                              {u"at"_s, static_cast<double>(c.atMs)}});
        if (c.refuseUntilMs > nowMs())
            m_ended.insert(roomId, c.refuseUntilMs);
        closeWith(room, ended, u"consultation_ended"_s, u"consultation_ended"_s, nullptr);
        return;
    }
    case RoomChange::Type::Closed: {
        const OutboundMessage closed = notice(MessageKind::RoomClosed,
                                              {{u"roomId"_s, roomId},
                                               {u"appointmentId"_s, static_cast<double>(room.appointmentId())},
                                               {u"reason"_s, c.reason},
                                               {u"timestamp"_s, static_cast<double>(nowMs())}});
        closeWith(room, closed, u"room_closed"_s, c.reason, nullptr);
        return;
    }
    case RoomChange::Type::Unknown:
        return;
    }
}

// ---------------------------------------------------------------- messages

void RoomService::storedArrived(const QString &roomId, qint64 seq, store::MessageClass cls, const QString &sender,
                                const QByteArray &body)
{
    Room *room = roomOf(roomId);
    if (!room)
        return;
    SharedSync &sync = m_sync[roomId];
    if (room->isOpening()) {
        sync.maxSeenSeq = std::max(sync.maxSeenSeq, seq);
        return;
    }
    if (seq <= room->m_lastSeq)
        return;
    if (sync.resyncing || sync.filling || seq > room->m_lastSeq + 1) {
        sync.stored.insert_or_assign(seq, StoredArrival{cls, sender, body});
        if (!sync.resyncing && !sync.filling)
            fillStoredGap(roomId, seq - 1);
        return;
    }
    deliverStored(*room, seq, cls, sender, body);
}

void RoomService::deliverStored(Room &room, qint64 seq, store::MessageClass cls, const QString &sender,
                                const QByteArray &body)
{
    const MessageKind kind = kindOf(cls);
    room.m_lastSeq = std::max(room.m_lastSeq, seq);
    ++room.m_counts[static_cast<std::size_t>(kind)];
    const QList<Member *> recipients = room.recipients(sender, std::nullopt);
    if (recipients.isEmpty())
        return;
    room.m_lastActivityMs = nowMs();
    deliver(room, recipients, OutboundMessage(kind, withSeq(body, seq)));
}

// Stored messages that did not arrive on the channel (it was down, or
// dropped them): read from the history, delivered in order before the ones
// held since.
void RoomService::fillStoredGap(const QString &roomId, qint64 upToSeq)
{
    Room *room = roomOf(roomId);
    if (!room)
        return;
    m_sync[roomId].filling = true;
    store::ReadRequest rr;
    rr.roomId = roomId;
    rr.afterSeq = room->m_lastSeq;
    rr.upToSeq = upToSeq;
    rr.limit = m_config.maxReplay;
    m_history.read(std::move(rr), this, [this, roomId](const store::ReadResult &r) {
        if (!roomOf(roomId))
            return;
        m_sync[roomId].filling = false;
        if (!r.ok)
            qCWarning(lcRooms) << "stored messages of room" << roomId << "could not be read:" << r.error;
        for (const store::StoredMessage &m : r.messages) {
            Room *target = roomOf(roomId);
            if (!target)
                return;
            if (m.seq > target->m_lastSeq)
                deliverStored(*target, m.seq, m.cls, senderOf(m.body), m.body);
        }
        releaseStored(roomId);
    });
}

// Delivers what was held, in seq order; what the history no longer holds
// (past its bounds) is skipped.
void RoomService::releaseStored(const QString &roomId)
{
    for (;;) {
        Room *room = roomOf(roomId);
        auto sync = m_sync.find(roomId);
        if (!room || sync == m_sync.end() || sync->resyncing || sync->filling || sync->stored.empty())
            return;
        auto first = sync->stored.begin();
        const qint64 seq = first->first;
        const StoredArrival arrival = std::move(first->second);
        sync->stored.erase(first);
        if (seq > room->m_lastSeq)
            deliverStored(*room, seq, arrival.cls, arrival.sender, arrival.body);
    }
}

void RoomService::relayArrived(const QString &roomId, MessageKind kind, const QString &sender,
                               const QStringList &targets, const QByteArray &text)
{
    Room *room = roomOf(roomId);
    if (!room || room->isOpening())
        return;
    QList<Member *> recipients;
    if (targets.isEmpty()) {
        recipients = room->recipients(sender, std::nullopt);
    } else {
        // Only this room's members, whatever the targets name.
        for (const QString &t : targets) {
            Member *m = room->member(t);
            if (m && m->isLocal() && m->state != MemberState::Away && t != sender)
                recipients.append(m);
        }
    }
    ++room->m_counts[static_cast<std::size_t>(kind)];
    if (recipients.isEmpty())
        return;
    room->m_lastActivityMs = nowMs();
    deliver(*room, recipients, OutboundMessage(kind, text));
}

// Crosses to the other instances once, whatever the number of recipients
// there: to every member but the sender, or to the named connections.
void RoomService::relayShared(Room &room, MessageKind kind, const QString &sender, const std::optional<QString> &to,
                              const QList<Member *> &recipients, const QByteArray &text)
{
    if (!room.hasRemoteRecipients())
        return;
    if (!to) {
        m_cluster->relay(room.id(), kind, sender, {}, text);
        return;
    }
    QStringList targets;
    for (const Member *m : recipients) {
        if (!m->isLocal())
            targets.append(m->connectionId);
    }
    if (!targets.isEmpty())
        m_cluster->relay(room.id(), kind, sender, targets, text);
}

// ---------------------------------------------------------------- commands

void RoomService::commandShared(const Request &request, SharedCommand command)
{
    if (!m_cluster->available()) {
        request.error(ErrorCode::ClusterUnavailable, u"the cluster is unavailable; try again"_s);
        return;
    }
    const QString roomId = command.roomId;
    m_cluster->command(command, this, [request, roomId](const CommandResult &r) {
        if (r.ok) {
            for (qsizetype i = 0; i < r.refusedFull.size(); ++i)
                request.error(ErrorCode::RoomFull, u"room '%1' is full"_s.arg(roomId));
            return;
        }
        request.error(r.refusal, r.error);
    });
}

void RoomService::expireDueAway()
{
    if (!m_cluster->available())
        return;
    const qint64 now = nowMs();
    for (Room *room : std::as_const(m_rooms)) {
        if (room->isOpening())
            continue;
        for (const Member &m : room->members()) {
            // A local member's own timer asks first; this retries.
            const qint64 slack = m.isLocal() ? 2000 : 0;
            if (m.state == MemberState::Away && m.awayUntilMs > 0 && m.awayUntilMs + slack <= now)
                m_cluster->expire(room->id(), m.connectionId);
        }
    }
}

// ---------------------------------------------------------------- stored messages

void RoomService::appendShared(store::AppendRequest append, const QString &sender,
                               std::function<void(const store::AppendResult &)> committed)
{
    const QString roomId = append.roomId;
    ++m_sync[roomId].appendsInFlight;
    m_cluster->appendStored(std::move(append), sender, this,
                            [this, roomId, committed = std::move(committed)](const store::AppendResult &r) {
                                auto s = m_sync.find(roomId);
                                if (s != m_sync.end()) {
                                    s->appendsInFlight = std::max(0, s->appendsInFlight - 1);
                                    if (r.ok)
                                        s->committedSeq = std::max(s->committedSeq, r.seq);
                                }
                                committed(r);
                            });
}

// While the link is down, a room whose members are all here goes on: its
// stored messages are numbered here, after the last one it knew, delivered
// at once, and kept in the outage journal until the link is back. That
// needs the room's numbering to be known exactly: nothing of this instance's
// on its way to the link, and every number it was given delivered here.
bool RoomService::journalStored(Room &room, MessageKind kind, const QString &sender, store::AppendRequest append,
                                const Request &request, const QString &clientMessageId)
{
    const QString roomId = room.id();
    if (room.isOpening() || !room.allMembersLocal())
        return false;
    auto existing = m_journals.find(roomId);
    if (existing != m_journals.end()) {
        // Going on from the journal's own numbering, unless it was given up.
        if (existing->renumber || existing->entries.empty() || existing->entries.back().seq != room.m_lastSeq)
            return false;
    } else {
        const auto sync = m_sync.constFind(roomId);
        if (sync == m_sync.cend() || sync->resyncing || sync->filling || !sync->stored.empty()
            || sync->appendsInFlight > 0 || sync->committedSeq > room.m_lastSeq)
            return false;
    }
    Journal &journal = m_journals[roomId];
    if (!append.dedupKey.isEmpty()) {
        for (const Journaled &e : journal.entries) {
            if (e.request.dedupKey == append.dedupKey) {
                relayCommitted(roomId, kind, sender, {}, request, clientMessageId, true, e.seq, true);
                return true;
            }
        }
    }
    if (static_cast<qint64>(journal.entries.size()) >= m_config.outageMessages
        || journal.bytes + append.body.size() > kJournalMaxRoomBytes
        || m_journalBytes + append.body.size() > kJournalMaxBytes) {
        if (journal.entries.empty())
            m_journals.remove(roomId);
        return false;
    }
    const qint64 seq = room.m_lastSeq + 1;
    m_journalBytes += append.body.size();
    journal.bytes += append.body.size();
    const store::MessageClass cls = append.cls;
    const QByteArray body = append.body;
    journal.entries.push_back(Journaled{std::move(append), seq, sender});
    deliverStored(room, seq, cls, sender, body);
    relayCommitted(roomId, kind, sender, {}, request, clientMessageId, true, seq, false);
    return true;
}

// Writes the journal to the shared history one message at a time, each under
// the number its room's members saw, as long as nobody else numbered
// messages of the room meanwhile.
void RoomService::flushJournal(const QString &roomId)
{
    auto journal = m_journals.find(roomId);
    if (journal == m_journals.end() || journal->flushing || !m_cluster->available())
        return;
    if (journal->entries.empty()) {
        m_journals.erase(journal);
        auto sync = m_sync.find(roomId);
        if (sync != m_sync.end() && sync->awaitingJournal) {
            sync->awaitingJournal = false;
            catchUpStored(roomId);
        }
        return;
    }
    journal->flushing = true;
    const Journaled &e = journal->entries.front();
    auto done = [this, roomId](const store::AppendResult &r) { journalFlushed(roomId, r); };
    if (journal->renumber)
        m_cluster->appendStored(e.request, e.sender, this, std::move(done));
    else
        m_cluster->appendStoredAt(e.request, e.seq, e.sender, this, std::move(done));
}

void RoomService::journalFlushed(const QString &roomId, const store::AppendResult &r)
{
    auto journal = m_journals.find(roomId);
    if (journal == m_journals.end())
        return;
    journal->flushing = false;
    const auto pop = [this, &journal] {
        m_journalBytes -= journal->entries.front().request.body.size();
        journal->bytes -= journal->entries.front().request.body.size();
        journal->entries.pop_front();
    };
    if (r.ok && (!r.duplicate || journal->renumber)) {
        pop();
        flushJournal(roomId);
        return;
    }
    if (r.conflict || r.duplicate) {
        // Messages of the room were stored elsewhere meanwhile (another
        // instance that still reached Redis took the room over), or this one
        // was stored before the outage: the rest are stored after them under
        // new numbers, nothing lost, and the room's members here get them
        // again under those numbers, after the others' messages.
        const qint64 from = journal->entries.front().seq;
        qCWarning(lcRooms) << "room" << roomId << "was numbered elsewhere while served here alone; messages from seq"
                           << from << "are stored under new numbers";
        journal->renumber = true;
        if (Room *room = roomOf(roomId))
            room->m_lastSeq = std::min(room->m_lastSeq, from - 1);
        if (r.duplicate)
            pop();
        flushJournal(roomId);
        return;
    }
    // Not stored (the link went again, or the history is not back yet): again shortly.
    QTimer::singleShot(1000, this, [this, roomId] { flushJournal(roomId); });
}

// ---------------------------------------------------------------- resync

void RoomService::linkChanged(bool available)
{
    if (available) {
        // Each room's channel reports back (roomNeedsResync); what was
        // numbered here meanwhile goes to the shared history now.
        const QStringList journaled = m_journals.keys();
        for (const QString &roomId : journaled)
            flushJournal(roomId);
        return;
    }
    // What happens here meanwhile is told to the others when the link is back.
    for (auto it = m_sync.begin(); it != m_sync.end(); ++it)
        it->reassert = true;
}

void RoomService::roomNeedsResync(const QString &roomId)
{
    Room *room = roomOf(roomId);
    if (!room || room->isOpening())
        return;
    m_sync[roomId].reassert = true;
    resync(roomId);
}

void RoomService::resync(const QString &roomId)
{
    Room *room = roomOf(roomId);
    if (!room || room->isOpening())
        return;
    SharedSync &sync = m_sync[roomId];
    if (sync.resyncing)
        return;
    sync.resyncing = true;
    // What was held so far the fetch covers; what comes after it is held anew.
    sync.pending.clear();
    const auto fetch = [this, roomId] {
        m_cluster->fetchRoom(roomId, this, [this, roomId](const SharedRoom &s) { finishResync(roomId, s); });
    };
    if (!sync.reassert) {
        fetch();
        return;
    }
    sync.reassert = false;
    QList<SharedMember> members;
    QList<SharedMember> waiting;
    for (const Member &m : room->members()) {
        if (m.isLocal())
            members.append(sharedOf(m));
    }
    for (const WaitingGuest &g : room->waiting()) {
        if (g.isLocal())
            waiting.append(sharedOf(g));
    }
    m_cluster->syncRoom(roomId, members, waiting, sharedDefaults(*room), this, [this, roomId, fetch](bool ok, bool) {
        if (!ok) {
            auto s = m_sync.find(roomId);
            if (s != m_sync.end()) {
                s->resyncing = false;
                s->reassert = true; // again when the link is back
            }
            return;
        }
        fetch();
    });
}

// A local join decided before the fetch (the link answers in order) whose
// change the fetch covered: entered, or left waiting, as its change would
// have; one the shared state no longer holds is refused (try again).
void RoomService::settleDecidedJoins(const QString &roomId, const SharedRoom &shared)
{
    const auto sync = m_sync.constFind(roomId);
    if (sync == m_sync.cend())
        return;
    const QHash<QString, const SharedMember *> members = byConnection(shared.members);
    const QHash<QString, const SharedMember *> waiting = byConnection(shared.waiting);
    QStringList decided;
    for (auto it = sync->joins.cbegin(); it != sync->joins.cend(); ++it) {
        if (it.value()->decided)
            decided.append(it.key());
    }
    for (const QString &cid : std::as_const(decided)) {
        Room *room = roomOf(roomId);
        if (!room)
            return;
        if (room->member(cid) || room->waitingGuest(cid))
            continue;
        RoomChange c;
        if (const SharedMember *m = members.value(cid)) {
            c.type = RoomChange::Type::Joined;
            c.member = *m;
        } else if (const SharedMember *g = waiting.value(cid)) {
            c.type = RoomChange::Type::Waiting;
            c.member = *g;
        } else {
            const std::shared_ptr<JoinTicket> ticket = m_sync[roomId].joins.take(cid);
            if (ticket) {
                refuseJoin(ticket->request, roomId, ErrorCode::ClusterUnavailable,
                           u"room '%1' cannot be joined now: the cluster is unavailable; try again"_s.arg(roomId));
            }
            continue;
        }
        applyChange(*room, c);
        // Its own announcement went with the change that was skipped.
        Room *after = roomOf(roomId);
        if (c.type == RoomChange::Type::Joined && after)
            announceJoined(*after, cid);
    }
    deleteIfEmpty(roomId);
}

void RoomService::finishResync(const QString &roomId, const SharedRoom &shared)
{
    Room *room = roomOf(roomId);
    auto sync = m_sync.find(roomId);
    if (!room || sync == m_sync.end())
        return;
    sync->resyncing = false;
    if (!shared.ok) {
        sync->reassert = true;
        return;
    }
    if (shared.ended) {
        const OutboundMessage ended = notice(MessageKind::ConsultationEnded,
                                             {{u"roomId"_s, roomId},
                                              {u"reason"_s, u"ended"_s},
                                              {u"at"_s, static_cast<double>(nowMs())}});
        closeWith(*room, ended, u"consultation_ended"_s, u"consultation_ended"_s, nullptr);
        return;
    }
    // The shared state numbered anew: it was lost (Redis came back without
    // its data) and the instances are writing their members back. Members of
    // the others are kept until they had the time to (a presence TTL), then
    // the room is fetched again and those still missing leave.
    const bool rebuilt = shared.version < room->m_version;
    applyShared(*room, shared, true, rebuilt);
    if (rebuilt) {
        QTimer::singleShot(std::max(1000, m_config.presenceTtlMs), this, [this, roomId] { resync(roomId); });
    }
    room = roomOf(roomId);
    if (!room)
        return;
    settleDecidedJoins(roomId, shared);
    room = roomOf(roomId);
    if (!room)
        return;
    // Local members the shared state no longer holds: removed by a host
    // while this instance could not hear it.
    const QHash<QString, const SharedMember *> members = byConnection(shared.members);
    const QList<Member> before = room->members();
    for (const Member &m : before) {
        if (!m.isLocal() || members.contains(m.connectionId))
            continue;
        Room *r = roomOf(roomId);
        if (!r)
            return;
        if (m.peer && !m.identity.userId.isEmpty() && r->m_removedUsers.contains(m.identity.userId))
            m.peer->send(notice(MessageKind::Removed, {{u"roomId"_s, roomId}}));
        removeMember(*r, m.connectionId, u"removed"_s);
    }
    room = roomOf(roomId);
    if (!room)
        return;
    // Local guests admitted or turned away meanwhile.
    const QHash<QString, const SharedMember *> stillWaiting = byConnection(shared.waiting);
    const QList<WaitingGuest> guests = room->waiting();
    for (const WaitingGuest &g : guests) {
        if (!g.isLocal() || stillWaiting.contains(g.connectionId))
            continue;
        Room *r = roomOf(roomId);
        if (!r)
            return;
        if (const SharedMember *admitted = members.value(g.connectionId)) {
            RoomChange c;
            c.type = RoomChange::Type::Admitted;
            c.member = *admitted;
            applyChange(*r, c);
        } else {
            if (g.peer)
                g.peer->send(notice(MessageKind::Denied, {{u"roomId"_s, roomId}}));
            removeWaiting(*r, g.connectionId, u"denied"_s, {});
        }
    }
    if (!roomOf(roomId))
        return;
    drainPending(roomId);
    if (m_journals.contains(roomId)) {
        m_sync[roomId].awaitingJournal = true; // what the history holds is known once the journal is in it
        return;
    }
    catchUpStored(roomId);
}

void RoomService::catchUpStored(const QString &roomId)
{
    if (!roomOf(roomId))
        return;
    // Stored messages missed meanwhile come from the history; those that
    // arrive now are held until then.
    m_sync[roomId].filling = true;
    m_history.room(roomId, this, [this, roomId](const store::RoomRecord &record) {
        Room *r = roomOf(roomId);
        if (!r)
            return;
        SharedSync &sync = m_sync[roomId];
        if (!record.ok) {
            // The history's own connection may come back after the link.
            qCWarning(lcRooms) << "room" << roomId << "history record unavailable:" << record.error;
            if (m_cluster->available()) {
                QTimer::singleShot(1000, this, [this, roomId] { catchUpStored(roomId); });
            } else {
                sync.filling = false;
                sync.reassert = true; // again when the link is back
                releaseStored(roomId);
            }
            return;
        }
        sync.filling = false;
        if (record.lastSeq < r->m_lastSeq) {
            // Numbered anew from 1: what the new numbering holds is read
            // from its start, and what arrived meanwhile follows it.
            qCWarning(lcRooms) << "room" << roomId << "history was reset (seq" << record.lastSeq << "<"
                               << r->m_lastSeq << "): Redis lost its data";
            r->m_lastSeq = 0;
            sync.committedSeq = 0;
        }
        if (record.lastSeq > r->m_lastSeq) {
            fillStoredGap(roomId, record.lastSeq);
            return;
        }
        releaseStored(roomId);
    });
}

} // namespace medrelay::server
