#include "consultation/RoomService.h"

#include "consultation/Fanout.h"
#include "consultation/RoomMessages.h"
#include "consultation/Stamp.h"
#include "store/HistoryStore.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcRooms, "medrelay.rooms")

namespace medrelay::server {

using namespace Qt::StringLiterals;
using protocol::ErrorCode;
using protocol::MessageKind;
using namespace roommessages;

namespace {

void appendArray(QByteArray &out, const QList<store::StoredMessage> &messages)
{
    out.append('[');
    for (qsizetype i = 0; i < messages.size(); ++i) {
        if (i > 0)
            out.append(',');
        out.append(withSeq(messages[i].body, messages[i].seq));
    }
    out.append(']');
}

events::Actor actorOf(const Peer &peer)
{
    return {peer.connectionId(), peer.identity().userId};
}

} // namespace

RoomService::RoomService(RoomConfig config, AccessPolicy access, store::HistoryStore &history, Fanout &fanout,
                         QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_access(std::move(access))
    , m_history(history)
    , m_fanout(fanout)
{
    // Warnings and ends of timed consultations, expiry of ended-room refusals.
    m_lifecycle.setInterval(1000);
    m_lifecycle.setTimerType(Qt::CoarseTimer);
    connect(&m_lifecycle, &QTimer::timeout, this, &RoomService::lifecycleTick);
    m_lifecycle.start();
}

RoomService::~RoomService()
{
    qDeleteAll(m_rooms);
}

Room *RoomService::roomOf(const QString &roomId) const
{
    return m_rooms.value(roomId);
}

const Room *RoomService::find(const QString &roomId) const
{
    const Room *room = roomOf(roomId);
    return room && !room->isOpening() ? room : nullptr;
}

QList<const Room *> RoomService::rooms() const
{
    QList<const Room *> out;
    out.reserve(m_rooms.size());
    for (const Room *r : m_rooms) {
        if (!r->isOpening())
            out.append(r);
    }
    return out;
}

QStringList RoomService::idleSince(qint64 cutoffMs) const
{
    QStringList out;
    for (const Room *r : m_rooms) {
        if (!r->isOpening() && r->lastActivityMs() < cutoffMs)
            out.append(r->id());
    }
    return out;
}

void RoomService::publish(const events::RoomEvent &event, bool remote)
{
    remote = remote || m_applyingRemote;
    for (const auto &[observer, wholeCluster] : std::as_const(m_observers)) {
        if (!remote || wholeCluster)
            observer->roomEvent(event);
    }
}

void RoomService::index(const QString &connectionId, const QString &roomId)
{
    QStringList &mine = m_byConnection[connectionId];
    if (!mine.contains(roomId))
        mine.append(roomId);
}

void RoomService::unindex(const QString &connectionId, const QString &roomId)
{
    auto it = m_byConnection.find(connectionId);
    if (it == m_byConnection.end())
        return;
    it->removeOne(roomId);
    if (it->isEmpty())
        m_byConnection.erase(it);
}

// ---------------------------------------------------------------- joining

void RoomService::refuseJoin(const Request &request, const QString &roomId, ErrorCode code, const QString &message)
{
    if (Peer *p = request.peer())
        publish(events::JoinRefused{roomId, p->connectionId(), p->identity().userId,
                                    QString(protocol::wireName(code))});
    request.error(code, message);
}

void RoomService::join(const Request &request, const protocol::Envelope &envelope, const protocol::JoinRoom &m)
{
    Peer *peer = request.peer();
    if (!peer)
        return;
    if (!m_access.mayEnter(peer->identity(), m.roomId)) {
        refuseJoin(request, m.roomId, ErrorCode::Forbidden, u"this token does not grant room '%1'"_s.arg(m.roomId));
        return;
    }
    // A room named after an appointment belongs to that appointment, whoever
    // comes first.
    if (const auto derived = m_access.appointmentOf(m.roomId); derived && *derived != m.appointmentId) {
        refuseJoin(request, m.roomId, ErrorCode::AppointmentMismatch,
                   u"room '%1' belongs to appointment %2"_s.arg(m.roomId).arg(*derived));
        return;
    }
    if (const auto ended = m_ended.constFind(m.roomId); ended != m_ended.cend() && *ended > nowMs()) {
        refuseJoin(request, m.roomId, ErrorCode::ConsultationEnded,
                   u"the consultation in room '%1' has ended"_s.arg(m.roomId));
        return;
    }
    auto ticket = std::make_shared<JoinTicket>(JoinTicket{request, envelope, m});
    if (!roomOf(m.roomId))
        openRoom(m.roomId, m.appointmentId);
    Room *room = roomOf(m.roomId);
    if (room && room->isOpening()) {
        m_opening[m.roomId].append([this, ticket] { continueJoin(ticket); });
        return;
    }
    continueJoin(ticket);
}

Room &RoomService::openRoom(const QString &roomId, qint64 appointmentId)
{
    const qint64 now = nowMs();
    auto *room = new Room(roomId, appointmentId, now, m_config.waitingRoomByDefault);
    if (m_config.maxConsultationMs > 0)
        room->m_endsAtMs = now + m_config.maxConsultationMs;
    m_rooms.insert(roomId, room);
    if (clustered()) {
        openShared(roomId);
        return *room;
    }
    // Where the room's seq stands, and whether its consultation ended before
    // (also before a restart). May answer before this returns.
    m_history.room(roomId, this, [this, roomId](const store::RoomRecord &record) {
        if (!record.ok)
            qCWarning(lcRooms) << "history store has no record for room" << roomId << ":" << record.error;
        onRoomRecord(roomId, record.ok ? record.lastSeq : 0, record.ok ? record.refuseJoinsUntilMs : 0);
    });
    return *room;
}

void RoomService::onRoomRecord(const QString &roomId, qint64 lastSeq, qint64 refuseUntilMs)
{
    Room *room = roomOf(roomId);
    if (!room || !room->isOpening())
        return;
    const QList<std::function<void()>> waiting = m_opening.take(roomId);
    if (refuseUntilMs > nowMs()) {
        m_ended.insert(roomId, refuseUntilMs);
        m_rooms.remove(roomId);
        delete room;
    } else {
        room->m_lastSeq = lastSeq;
        if (clustered()) {
            // Stored messages seen on the channel while opening are in the
            // store already: nobody here needs them delivered.
            room->m_lastSeq = std::max(lastSeq, m_sync[roomId].maxSeenSeq);
        }
        room->m_opening = false;
        publish(events::RoomOpened{roomId, room->appointmentId()});
        if (clustered())
            drainPending(roomId);
    }
    if (clustered() && refuseUntilMs > nowMs())
        forgetShared(roomId);
    for (const auto &fn : waiting)
        fn();
}

void RoomService::continueJoin(const std::shared_ptr<JoinTicket> &ticket)
{
    const Request &request = ticket->request;
    const protocol::JoinRoom &m = ticket->message;
    Peer *peer = request.peer();
    if (!peer)
        return;
    Room *room = roomOf(m.roomId);
    if (!room) {
        if (m_unreachable.contains(m.roomId)) {
            refuseJoin(request, m.roomId, ErrorCode::ClusterUnavailable,
                       u"room '%1' cannot be opened: the cluster is unavailable"_s.arg(m.roomId));
            return;
        }
        if (m_ended.value(m.roomId) > nowMs()) {
            refuseJoin(request, m.roomId, ErrorCode::ConsultationEnded,
                       u"the consultation in room '%1' has ended"_s.arg(m.roomId));
            return;
        }
        join(request, ticket->envelope, m); // closed meanwhile: open it again
        return;
    }
    const QString &cid = peer->connectionId();
    const Identity &identity = peer->identity();
    if (room->appointmentId() != m.appointmentId) {
        refuseJoin(request, m.roomId, ErrorCode::AppointmentMismatch,
                   u"room '%1' belongs to another appointment"_s.arg(m.roomId));
        return;
    }
    if (Member *existing = room->member(cid)) {
        // A repeated join is not announced again; it refreshes room_state.
        existing->lastActivityMs = nowMs();
        if (existing->state == MemberState::Active)
            fetchRoomState(*room, cid, m.lastSeq, request.requestId());
        return;
    }
    if (room->waitingGuest(cid)) {
        request.reply(MessageKind::Waiting, {{u"type"_s, kindName(MessageKind::Waiting)}, {u"roomId"_s, m.roomId}});
        return;
    }
    if (identity.isSet() && room->m_removedUsers.contains(identity.userId)) {
        refuseJoin(request, m.roomId, ErrorCode::Forbidden,
                   u"a host removed this user from the consultation in room '%1'"_s.arg(m.roomId));
        return;
    }
    const qsizetype roomsHeld = m_byConnection.value(cid).size();
    if (roomsHeld >= m_config.maxRoomsPerConnection) {
        refuseJoin(request, m.roomId, ErrorCode::TooManyRooms, u"this connection is in too many rooms"_s);
        return;
    }
    if (clustered()) {
        // Takeover, lock, waiting room and capacity span every instance.
        joinShared(ticket, *room);
        return;
    }
    // Back within the resume grace: take the old place over, unannounced.
    if (Member *away = identity.isSet() ? room->awayMemberOf(identity.userId) : nullptr) {
        takeOver(*room, *away, *peer, m.lastSeq, request.requestId());
        return;
    }
    const bool host = m_access.isHost(identity);
    if (!host && room->locked()) {
        refuseJoin(request, m.roomId, ErrorCode::RoomLocked, u"room '%1' is locked"_s.arg(m.roomId));
        return;
    }
    if (!host && room->waitingRoom()) {
        addWaiting(*room, *peer, ticket->envelope, m, request.requestId());
        return;
    }
    if (room->size() >= m_config.maxParticipantsPerRoom) {
        refuseJoin(request, m.roomId, ErrorCode::RoomFull, u"room '%1' is full"_s.arg(m.roomId));
        return;
    }
    enter(*room, *peer, ticket->envelope.json, m.lastSeq, request.requestId(), true);
}

void RoomService::enter(Room &room, Peer &peer, const protocol::JsonObjectView &join, std::optional<qint64> lastSeq,
                        const QJsonValue &requestId, bool announce)
{
    const qint64 now = nowMs();
    const QString cid = peer.connectionId();
    Member member;
    member.peer = &peer;
    member.connectionId = cid;
    member.identity = peer.identity();
    member.stamp = senderFields(member.identity, cid);
    member.host = m_access.isHost(member.identity);
    member.state = MemberState::Joining;
    member.joinedAtMs = now;
    member.lastActivityMs = now;
    room.m_members.append(member);
    room.m_lastActivityMs = now;
    index(cid, room.id());
    qCInfo(lcRooms) << "join" << room.id() << cid;
    publish(events::MemberJoined{room.id(), room.appointmentId(), cid, member.identity.userId,
                                 member.identity.role, member.host, false});
    if (announce) {
        const QByteArray appointment = "\"appointmentId\":" + QByteArray::number(room.appointmentId());
        const QByteArray text = stampRelayed(join, member.stamp, now, {"appointmentId"_L1, "lastSeq"_L1}, appointment);
        deliver(room, room.recipients(cid, std::nullopt), OutboundMessage(MessageKind::UserJoined, text));
    }
    fetchRoomState(room, cid, lastSeq, requestId);
}

void RoomService::takeOver(Room &room, Member &away, Peer &peer, std::optional<qint64> lastSeq,
                           const QJsonValue &requestId)
{
    delete away.graceTimer;
    away.graceTimer = nullptr;
    away.peer = &peer;
    away.connectionId = peer.connectionId();
    away.identity = peer.identity();
    away.stamp = senderFields(away.identity, away.connectionId);
    away.host = m_access.isHost(away.identity);
    away.state = MemberState::Joining;
    away.lastActivityMs = nowMs();
    index(away.connectionId, room.id());
    qCInfo(lcRooms) << "resumed" << room.id() << away.connectionId;
    publish(events::MemberJoined{room.id(), room.appointmentId(), away.connectionId, away.identity.userId,
                                 away.identity.role, away.host, true});
    fetchRoomState(room, away.connectionId, lastSeq, requestId);
}

void RoomService::fetchRoomState(Room &room, const QString &connectionId, std::optional<qint64> lastSeq,
                                 const QJsonValue &requestId)
{
    // Everything up to the room's last relayed seq comes from the store;
    // anything later reaches the joiner live (held until room_state is out).
    const qint64 upTo = room.lastSeq();
    const QString roomId = room.id();
    auto snapshot = std::make_shared<store::Snapshot>();
    store::SnapshotRequest sr;
    sr.roomId = roomId;
    sr.upToSeq = upTo;
    sr.recentChat = m_config.recentChat;
    sr.maxWhiteboard = m_config.maxWhiteboard;
    m_history.snapshot(std::move(sr), this, [=, this](const store::Snapshot &s) {
        *snapshot = s;
        if (!lastSeq)
            finishJoin(roomId, connectionId, upTo, lastSeq, requestId, *snapshot, nullptr);
    });
    if (lastSeq) {
        // A lastSeq beyond the room's means the history was reset (a new
        // consultation under the same id): everything held is new to it.
        store::ReadRequest rr;
        rr.roomId = roomId;
        rr.afterSeq = *lastSeq > upTo ? 0 : *lastSeq;
        rr.upToSeq = upTo;
        rr.limit = m_config.maxReplay;
        m_history.read(std::move(rr), this, [=, this](const store::ReadResult &r) {
            finishJoin(roomId, connectionId, upTo, lastSeq, requestId, *snapshot, &r);
        });
    }
}

void RoomService::finishJoin(const QString &roomId, const QString &connectionId, qint64 upToSeq,
                             std::optional<qint64> lastSeq, const QJsonValue &requestId,
                             const store::Snapshot &snapshot, const store::ReadResult *replay)
{
    Room *room = roomOf(roomId);
    Member *member = room ? room->member(connectionId) : nullptr;
    if (!member || !member->peer || member->state == MemberState::Away)
        return;
    Peer &peer = *member->peer;
    if (!snapshot.ok)
        qCWarning(lcRooms) << "no history snapshot for room" << roomId << ":" << snapshot.error;

    QJsonArray participants;
    for (const Member &m : room->members()) {
        QJsonObject p{{u"connectionId"_s, m.connectionId},
                      {u"userId"_s, protocol::userIdToJson(m.identity.userId)},
                      {u"userName"_s, m.identity.userName},
                      {u"joinedAt"_s, static_cast<double>(m.joinedAtMs)}};
        if (!m.identity.role.isEmpty())
            p.insert(u"role"_s, m.identity.role);
        if (m.host)
            p.insert(u"host"_s, true);
        if (m.state == MemberState::Away)
            p.insert(u"away"_s, true);
        participants.append(p);
    }
    QJsonObject state{{u"type"_s, kindName(MessageKind::RoomState)},
                      {u"roomId"_s, roomId},
                      {u"appointmentId"_s, static_cast<double>(room->appointmentId())},
                      {u"connectionId"_s, connectionId},
                      {u"participants"_s, participants},
                      {u"timestamp"_s, static_cast<double>(nowMs())},
                      {u"lastSeq"_s, static_cast<double>(upToSeq)},
                      {u"waitingRoom"_s, room->waitingRoom()},
                      {u"locked"_s, room->locked()}};
    if (!requestId.isUndefined() && !requestId.isNull())
        state.insert(u"requestId"_s, requestId);
    // The history arrays are stored bytes, spliced in as they were relayed.
    QByteArray text = QJsonDocument(state).toJson(QJsonDocument::Compact);
    text.chop(1);
    text.append(",\"recentChat\":");
    appendArray(text, snapshot.recentChat);
    text.append(",\"whiteboard\":");
    appendArray(text, snapshot.whiteboard);
    text.append('}');
    peer.send(OutboundMessage(MessageKind::RoomState, text));
    if (m_companion)
        m_companion->roomStateSent(peer, roomId);

    if (replay && lastSeq) {
        if (!replay->ok) {
            qCWarning(lcRooms) << "history read failed for room" << roomId << ":" << replay->error;
            peer.sendError(ErrorCode::HistoryUnavailable, u"stored messages could not be read"_s, requestId);
        } else {
            const qint64 after = *lastSeq > upToSeq ? 0 : *lastSeq;
            const bool reset = *lastSeq > upToSeq;
            if (reset || (after < upToSeq && after + 1 < replay->oldestAvailable)) {
                peer.send(notice(MessageKind::ResumeGap,
                                 {{u"roomId"_s, roomId},
                                  {u"requestedAfter"_s, static_cast<double>(*lastSeq)},
                                  {u"oldestAvailable"_s, static_cast<double>(replay->oldestAvailable)}}));
            }
            for (const store::StoredMessage &m : replay->messages)
                peer.send(OutboundMessage(kindOf(m.cls), withSeq(m.body, m.seq)));
        }
    }
    if (member->host) {
        for (const WaitingGuest &g : room->waiting()) {
            peer.send(notice(MessageKind::AdmissionRequest,
                             {{u"roomId"_s, roomId},
                              {u"connectionId"_s, g.connectionId},
                              {u"userId"_s, protocol::userIdToJson(g.identity.userId)},
                              {u"userName"_s, g.identity.userName}}));
        }
    }
    // Then whatever arrived for it meanwhile, in order.
    const QList<OutboundMessage> held = std::exchange(member->held, {});
    member->heldBytes = 0;
    member->state = MemberState::Active;
    for (const OutboundMessage &m : held)
        peer.send(m);
}

void RoomService::addWaiting(Room &room, Peer &peer, const protocol::Envelope &envelope,
                             const protocol::JoinRoom &join, const QJsonValue &requestId)
{
    WaitingGuest guest;
    guest.peer = &peer;
    guest.connectionId = peer.connectionId();
    guest.identity = peer.identity();
    guest.sinceMs = nowMs();
    guest.join = envelope.json;
    guest.lastSeq = join.lastSeq;
    guest.requestId = requestId;
    room.m_waiting.append(guest);
    index(guest.connectionId, room.id());
    qCInfo(lcRooms) << "waiting" << room.id() << guest.connectionId;
    peer.send(notice(MessageKind::Waiting, {{u"roomId"_s, room.id()}}, requestId));
    sendToHosts(room, notice(MessageKind::AdmissionRequest,
                             {{u"roomId"_s, room.id()},
                              {u"connectionId"_s, guest.connectionId},
                              {u"userId"_s, protocol::userIdToJson(guest.identity.userId)},
                              {u"userName"_s, guest.identity.userName}}));
    publish(events::GuestWaiting{room.id(), room.appointmentId(), guest.connectionId, guest.identity.userId});
}

// ---------------------------------------------------------------- relaying

void RoomService::relay(const Request &request, const protocol::Envelope &envelope, const protocol::RoomMessage &m)
{
    Peer *peer = request.peer();
    if (!peer)
        return;
    const QString &cid = peer->connectionId();
    Room *room = roomOf(m.roomId);
    Member *sender = room ? room->member(cid) : nullptr;
    if (!sender || sender->state == MemberState::Away) {
        request.error(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(m.roomId));
        return;
    }
    if (m.appointmentId && *m.appointmentId != room->appointmentId()) {
        request.error(ErrorCode::AppointmentMismatch, u"room '%1' belongs to another appointment"_s.arg(m.roomId));
        return;
    }
    const qint64 now = nowMs();
    sender->lastActivityMs = now;
    const MessageKind kind = envelope.kind;

    if (!protocol::RoomMessage::isStored(kind)) {
        const QList<Member *> recipients = room->recipients(cid, m.to);
        if (m.to && recipients.isEmpty()) {
            request.error(ErrorCode::TargetNotFound, u"no participant '%1' in room '%2'"_s.arg(*m.to, m.roomId));
            return;
        }
        ++room->m_counts[static_cast<std::size_t>(kind)];
        if (recipients.isEmpty())
            return;
        // Only traffic that reaches somebody keeps a room active.
        room->m_lastActivityMs = now;
        const OutboundMessage out(kind, stampRelayed(envelope.json, sender->stamp, now));
        deliver(*room, recipients, out);
        if (clustered())
            relayShared(*room, kind, cid, m.to, recipients, out.utf8());
        return;
    }

    // Chat and whiteboard: numbered and stored first, relayed once durable.
    store::AppendRequest append;
    append.roomId = m.roomId;
    append.cls = classOf(kind);
    append.body = stampRelayed(envelope.json, sender->stamp, now, {"seq"_L1});
    append.createdAtMs = now;
    const QString clientMessageId = m.clientMessageId.value_or(QString());
    if (!clientMessageId.isEmpty())
        append.dedupKey = peer->identity().userId.toUtf8() + '\x1f' + clientMessageId.toUtf8();
    const QByteArray body = clustered() ? QByteArray() : append.body;
    const QString roomId = m.roomId;
    auto committed = [this, roomId, kind, cid, body, request, clientMessageId](const store::AppendResult &r) {
        relayCommitted(roomId, kind, cid, body, request, clientMessageId, r.ok, r.seq, r.duplicate);
    };
    if (clustered()) {
        if (!m_cluster->available() || m_journals.contains(roomId)) {
            if (!journalStored(*room, kind, cid, std::move(append), request, clientMessageId))
                request.error(ErrorCode::HistoryUnavailable, u"the message could not be stored and was not relayed"_s);
            return;
        }
        // Delivered here too when it comes back on the room's channel, in
        // seq order with the other instances' messages.
        appendShared(std::move(append), cid, std::move(committed));
        return;
    }
    m_history.append(std::move(append), this, std::move(committed));
}

void RoomService::relayCommitted(const QString &roomId, MessageKind kind, const QString &senderConnectionId,
                                 const QByteArray &body, const Request &request, const QString &clientMessageId,
                                 bool ok, qint64 seq, bool duplicate)
{
    if (!ok) {
        // In cluster mode a lost answer may hide a message Redis stored
        // after all: a resend with the same clientMessageId is not repeated.
        request.error(ErrorCode::HistoryUnavailable,
                      clustered() ? u"the message could not be confirmed as stored; send it again with the same "
                                    "clientMessageId"_s
                                  : u"the message could not be stored and was not relayed"_s);
        return;
    }
    if (!duplicate && !clustered()) {
        if (Room *room = roomOf(roomId)) {
            room->m_lastSeq = std::max(room->m_lastSeq, seq);
            ++room->m_counts[static_cast<std::size_t>(kind)];
            const QList<Member *> recipients = room->recipients(senderConnectionId, std::nullopt);
            if (!recipients.isEmpty()) {
                room->m_lastActivityMs = nowMs();
                deliver(*room, recipients, OutboundMessage(kind, withSeq(body, seq)));
            }
        }
    }
    if (!clientMessageId.isEmpty()) {
        request.reply(MessageKind::Ack, {{u"type"_s, kindName(MessageKind::Ack)},
                                         {u"roomId"_s, roomId},
                                         {u"clientMessageId"_s, clientMessageId},
                                         {u"seq"_s, static_cast<double>(seq)}});
    }
}

int RoomService::deliver(Room &room, const QList<Member *> &recipients, const OutboundMessage &message)
{
    QList<Peer *> now;
    now.reserve(recipients.size());
    int held = 0;
    for (Member *m : recipients) {
        if (!m->peer)
            continue;
        if (m->state == MemberState::Joining) {
            // In order after its room_state; bounded like a send queue.
            m->held.append(message);
            m->heldBytes += message.size();
            ++held;
            if (m->heldBytes > m_config.heldBytesLimit) {
                m->held.clear();
                m->heldBytes = 0;
                m->peer->close(protocol::CloseCode::TryAgainLater, u"too much traffic before room_state"_s);
            }
            continue;
        }
        now.append(m->peer);
    }
    return held + (now.isEmpty() ? 0 : m_fanout.deliver(room, now, message));
}

void RoomService::sendToHosts(Room &room, const OutboundMessage &message)
{
    QList<Member *> hosts;
    for (Member &m : room.m_members) {
        if (m.host && m.state != MemberState::Away)
            hosts.append(&m);
    }
    if (!hosts.isEmpty())
        deliver(room, hosts, message);
}

// ---------------------------------------------------------------- leaving

QByteArray RoomService::leaveText(const Room &room, const Member &member, const QString &reason,
                                  const protocol::JsonObjectView *leave) const
{
    QByteArray head;
    head.append("\"type\":\"telemedicine_user_left\",\"roomId\":");
    protocol::appendJsonString(head, room.id());
    head.append(",\"appointmentId\":");
    head.append(QByteArray::number(room.appointmentId()));
    head.append(",\"reason\":");
    protocol::appendJsonString(head, reason);
    if (leave) {
        return stampRelayed(*leave, member.stamp, nowMs(), {"type"_L1, "roomId"_L1, "appointmentId"_L1, "reason"_L1},
                            head);
    }
    return "{" + head + ',' + member.stamp + ",\"timestamp\":" + QByteArray::number(nowMs()) + '}';
}

void RoomService::leave(const Request &request, const protocol::Envelope &envelope, const protocol::LeaveRoom &m)
{
    Peer *peer = request.peer();
    if (!peer)
        return;
    Room *room = roomOf(m.roomId);
    const QString cid = peer->connectionId();
    if (room && room->waitingGuest(cid)) {
        removeWaiting(*room, cid, u"cancelled"_s, actorOf(*peer));
        if (clustered())
            m_cluster->cancelWaiting(m.roomId, cid);
        return;
    }
    const Member *member = room ? room->member(cid) : nullptr;
    if (!member || !member->isLocal()) {
        request.error(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(m.roomId));
        return;
    }
    const QByteArray text = leaveText(*room, *member, u"left"_s, &envelope.json);
    removeMember(*room, cid, u"left"_s, text);
    // The others are told in the same words.
    if (clustered())
        m_cluster->left(m.roomId, cid, u"left"_s, text, {});
}

void RoomService::removeMember(Room &room, const QString &connectionId, const QString &reason,
                               const QByteArray &announcement, const events::Actor &by)
{
    const qsizetype at = [&] {
        for (qsizetype i = 0; i < room.m_members.size(); ++i) {
            if (room.m_members[i].connectionId == connectionId)
                return i;
        }
        return qsizetype(-1);
    }();
    if (at < 0)
        return;
    const QByteArray text = announcement.isEmpty() ? leaveText(room, room.m_members[at], reason) : announcement;
    const Member gone = room.m_members.takeAt(at);
    delete gone.graceTimer;
    unindex(connectionId, room.id());
    const QList<Member *> others = room.recipients(connectionId, std::nullopt);
    if (!others.isEmpty())
        deliver(room, others, OutboundMessage(MessageKind::UserLeft, text));
    room.m_lastActivityMs = nowMs();
    qCInfo(lcRooms) << "leave" << room.id() << connectionId << reason;
    publish(events::MemberLeft{room.id(), room.appointmentId(), connectionId, gone.identity.userId, reason, by});
    deleteIfEmpty(room.id());
}

void RoomService::removeWaiting(Room &room, const QString &connectionId, const QString &decision,
                                const events::Actor &by)
{
    const qsizetype at = [&] {
        for (qsizetype i = 0; i < room.m_waiting.size(); ++i) {
            if (room.m_waiting[i].connectionId == connectionId)
                return i;
        }
        return qsizetype(-1);
    }();
    if (at < 0)
        return;
    const WaitingGuest guest = room.m_waiting.takeAt(at);
    unindex(connectionId, room.id());
    sendToHosts(room, notice(MessageKind::AdmissionResolved, {{u"roomId"_s, room.id()},
                                                              {u"connectionId"_s, connectionId},
                                                              {u"decision"_s, decision}}));
    publish(events::AdmissionDecided{room.id(), room.appointmentId(), connectionId, guest.identity.userId,
                                     decision, by});
    deleteIfEmpty(room.id());
}

void RoomService::deleteIfEmpty(const QString &roomId)
{
    Room *room = roomOf(roomId);
    if (clustered() && room && !room->isOpening() && !room->hasLocal()) {
        const auto sync = m_sync.constFind(roomId);
        if (sync != m_sync.cend() && !sync->joins.isEmpty())
            return; // a join here is decided, its change on the way
        // Nobody here any more; the room may go on on other instances.
        const bool empty = room->isEmpty();
        m_rooms.remove(roomId);
        forgetShared(roomId);
        publish(events::RoomClosed{roomId, room->appointmentId(), empty ? u"empty"_s : u"no_local_participants"_s, {}},
                !empty);
        delete room;
        return;
    }
    if (!room || !room->isEmpty() || room->isOpening())
        return;
    m_rooms.remove(roomId);
    publish(events::RoomClosed{roomId, room->appointmentId(), u"empty"_s, {}});
    delete room;
}

void RoomService::sessionClosed(Peer *peer, bool resumable)
{
    const QString cid = peer->connectionId();
    const QStringList rooms = m_byConnection.take(cid);
    for (const QString &roomId : rooms) {
        Room *room = roomOf(roomId);
        if (!room)
            continue;
        if (room->waitingGuest(cid)) {
            removeWaiting(*room, cid, u"cancelled"_s, actorOf(*peer));
            if (clustered())
                m_cluster->cancelWaiting(roomId, cid);
            continue;
        }
        Member *m = room->member(cid);
        if (!m)
            continue;
        if (resumable && m_config.resumeGraceMs > 0) {
            // Kept for the grace: the others are told only if it does not
            // come back in time.
            m->peer = nullptr;
            m->state = MemberState::Away;
            m->awayUntilMs = nowMs() + m_config.resumeGraceMs;
            m->held.clear();
            m->heldBytes = 0;
            if (clustered())
                m_cluster->away(roomId, cid, m->awayUntilMs);
            m->graceTimer = new QTimer(this);
            m->graceTimer->setSingleShot(true);
            connect(m->graceTimer, &QTimer::timeout, this, [this, roomId, cid] { expireAway(roomId, cid); });
            m->graceTimer->start(m_config.resumeGraceMs);
            qCInfo(lcRooms) << "away" << roomId << cid;
            publish(events::MemberAway{roomId, room->appointmentId(), cid, m->identity.userId});
        } else {
            removeMember(*room, cid, u"disconnected"_s);
            if (clustered())
                m_cluster->left(roomId, cid, u"disconnected"_s, {}, {});
        }
    }
}

void RoomService::expireAway(const QString &roomId, const QString &connectionId)
{
    Room *room = roomOf(roomId);
    Member *m = room ? room->member(connectionId) : nullptr;
    if (!m || m->state != MemberState::Away)
        return;
    if (clustered() && m_cluster->available()) {
        // Unless it came back on another instance meanwhile, the change
        // removes it everywhere, here too.
        m_cluster->expire(roomId, connectionId);
        return;
    }
    removeMember(*room, connectionId, u"timeout"_s);
}

void RoomService::identityChanged(Peer *peer)
{
    const QString cid = peer->connectionId();
    const Identity &identity = peer->identity();
    const QStringList rooms = m_byConnection.value(cid);
    for (const QString &roomId : rooms) {
        Room *room = roomOf(roomId);
        if (!room)
            continue;
        if (!m_access.mayEnter(identity, roomId)) {
            // The new token no longer grants this room: out, and told why.
            peer->send(notice(MessageKind::Left, {{u"roomId"_s, roomId}, {u"reason"_s, u"grant_revoked"_s}}));
            if (room->waitingGuest(cid)) {
                removeWaiting(*room, cid, u"cancelled"_s, actorOf(*peer));
                if (clustered())
                    m_cluster->cancelWaiting(roomId, cid);
            } else {
                removeMember(*room, cid, u"grant_revoked"_s);
                if (clustered())
                    m_cluster->left(roomId, cid, u"grant_revoked"_s, {}, {});
            }
            continue;
        }
        if (Member *m = room->member(cid)) {
            m->identity = identity;
            m->stamp = senderFields(identity, cid);
            m->host = m_access.isHost(identity);
        }
        for (WaitingGuest &g : room->m_waiting) {
            if (g.connectionId == cid)
                g.identity = identity;
        }
    }
}

// ---------------------------------------------------------------- hosts

bool RoomService::checkHost(const Request &request, Room *&room, const QString &roomId)
{
    Peer *peer = request.peer();
    if (!peer)
        return false;
    room = roomOf(roomId);
    const Member *me = room ? room->member(peer->connectionId()) : nullptr;
    if (!me || me->state == MemberState::Away) {
        request.error(ErrorCode::NotMember, u"not a member of room '%1'"_s.arg(roomId));
        return false;
    }
    if (!me->host) {
        request.error(ErrorCode::HostOnly, u"only a host can do this in room '%1'"_s.arg(roomId));
        return false;
    }
    return true;
}

void RoomService::changeSettings(const Request &request, const protocol::RoomSettings &m)
{
    Room *room = nullptr;
    if (!checkHost(request, room, m.roomId))
        return;
    Peer &host = *request.peer();
    if (clustered()) {
        SharedCommand c;
        c.type = SharedCommand::Type::Settings;
        c.roomId = m.roomId;
        c.by = host.identity().userId;
        c.byConnection = host.connectionId();
        c.waitingRoom = m.waitingRoom;
        c.locked = m.locked;
        c.requestId = request.requestId();
        c.maxParticipants = m_config.maxParticipantsPerRoom;
        commandShared(request, c);
        return;
    }
    if (m.waitingRoom)
        room->m_waitingRoom = *m.waitingRoom;
    if (m.locked)
        room->m_locked = *m.locked;
    const events::Actor by = actorOf(host);
    publish(events::SettingsChanged{room->id(), room->appointmentId(), room->waitingRoom(), room->locked(), by});
    const QString roomId = room->id();
    deliver(*room, room->recipients(QString(), std::nullopt),
            notice(MessageKind::RoomSettingsChanged, {{u"roomId"_s, roomId},
                                                      {u"waitingRoom"_s, room->waitingRoom()},
                                                      {u"locked"_s, room->locked()},
                                                      {u"by"_s, protocol::userIdToJson(by.userId)}},
                   request.requestId()));
    // Without a waiting room nobody waits: everyone waiting comes in.
    if (!room->waitingRoom()) {
        const QList<WaitingGuest> waiting = room->m_waiting;
        for (const WaitingGuest &g : waiting)
            admit(request, protocol::ParticipantAction{roomId, g.connectionId});
    }
}

void RoomService::admit(const Request &request, const protocol::ParticipantAction &m)
{
    Room *room = nullptr;
    if (!checkHost(request, room, m.roomId))
        return;
    const WaitingGuest *found = room->waitingGuest(m.connectionId);
    if (!found) {
        request.error(ErrorCode::NotWaiting, u"'%1' is not waiting for room '%2'"_s.arg(m.connectionId, m.roomId));
        return;
    }
    const WaitingGuest guest = *found;
    const events::Actor by = actorOf(*request.peer());
    if (clustered()) {
        SharedCommand c;
        c.type = SharedCommand::Type::Admit;
        c.roomId = m.roomId;
        c.connectionId = m.connectionId;
        c.by = by.userId;
        c.byConnection = by.connectionId;
        c.maxParticipants = m_config.maxParticipantsPerRoom;
        commandShared(request, c);
        return;
    }
    if (room->size() >= m_config.maxParticipantsPerRoom) {
        request.error(ErrorCode::RoomFull, u"room '%1' is full"_s.arg(m.roomId));
        return;
    }
    room->m_waiting.removeIf([&](const WaitingGuest &g) { return g.connectionId == m.connectionId; });
    sendToHosts(*room, notice(MessageKind::AdmissionResolved, {{u"roomId"_s, room->id()},
                                                               {u"connectionId"_s, guest.connectionId},
                                                               {u"decision"_s, u"admitted"_s}}));
    publish(events::AdmissionDecided{room->id(), room->appointmentId(), guest.connectionId,
                                     guest.identity.userId, u"admitted"_s, by});
    guest.peer->send(notice(MessageKind::Admitted, {{u"roomId"_s, room->id()}}));
    enter(*room, *guest.peer, guest.join, guest.lastSeq, guest.requestId, true);
}

void RoomService::deny(const Request &request, const protocol::ParticipantAction &m)
{
    Room *room = nullptr;
    if (!checkHost(request, room, m.roomId))
        return;
    const WaitingGuest *found = room->waitingGuest(m.connectionId);
    if (!found) {
        request.error(ErrorCode::NotWaiting, u"'%1' is not waiting for room '%2'"_s.arg(m.connectionId, m.roomId));
        return;
    }
    if (clustered()) {
        SharedCommand c;
        c.type = SharedCommand::Type::Deny;
        c.roomId = m.roomId;
        c.connectionId = m.connectionId;
        c.by = request.peer()->identity().userId;
        c.byConnection = request.peer()->connectionId();
        commandShared(request, c);
        return;
    }
    Peer *guest = found->peer;
    guest->send(notice(MessageKind::Denied, {{u"roomId"_s, m.roomId}}));
    removeWaiting(*room, m.connectionId, u"denied"_s, actorOf(*request.peer()));
}

void RoomService::removeParticipant(const Request &request, const protocol::ParticipantAction &m)
{
    Room *room = nullptr;
    if (!checkHost(request, room, m.roomId))
        return;
    Peer &host = *request.peer();
    if (room->waitingGuest(m.connectionId)) {
        deny(request, m);
        return;
    }
    const Member *target = room->member(m.connectionId);
    if (!target) {
        request.error(ErrorCode::TargetNotFound, u"no participant '%1' in room '%2'"_s.arg(m.connectionId, m.roomId));
        return;
    }
    if (m.connectionId == host.connectionId()) {
        request.error(ErrorCode::InvalidField, u"to leave, send telemedicine_user_left"_s);
        return;
    }
    if (clustered()) {
        SharedCommand c;
        c.type = SharedCommand::Type::Remove;
        c.roomId = m.roomId;
        c.connectionId = m.connectionId;
        c.by = host.identity().userId;
        c.byConnection = host.connectionId();
        commandShared(request, c);
        return;
    }
    // The user is out for the rest of the consultation, on every device.
    const QString userId = target->identity.userId;
    if (!userId.isEmpty())
        room->m_removedUsers.insert(userId);
    QStringList targets;
    for (const Member &mem : room->members()) {
        if (mem.connectionId == m.connectionId || (!userId.isEmpty() && mem.identity.userId == userId))
            targets.append(mem.connectionId);
    }
    const events::Actor by = actorOf(host);
    const QString roomId = room->id();
    for (const QString &cid : std::as_const(targets)) {
        Room *r = roomOf(roomId);
        const Member *mem = r ? r->member(cid) : nullptr;
        if (!mem)
            continue;
        if (mem->peer)
            mem->peer->send(notice(MessageKind::Removed, {{u"roomId"_s, roomId},
                                                          {u"by"_s, protocol::userIdToJson(by.userId)}}));
        removeMember(*r, cid, u"removed"_s, {}, by);
    }
}

void RoomService::endConsultation(const Request &request, const protocol::EndConsultation &m)
{
    Room *room = nullptr;
    if (!checkHost(request, room, m.roomId))
        return;
    Peer &host = *request.peer();
    if (clustered() && !m_cluster->available()) {
        request.error(ErrorCode::ClusterUnavailable, u"the cluster is unavailable; try again"_s);
        return;
    }
    endRoom(*room, u"ended_by_host"_s, actorOf(host), host.identity().userId);
}

bool RoomService::endByAdmin(const QString &roomId, const QString &actor)
{
    Room *room = roomOf(roomId);
    if (clustered() && !room) {
        // Served by other instances only: the change reaches them.
        Room stranger(roomId, 0, nowMs(), false);
        endRoom(stranger, u"ended_by_admin"_s, events::Actor{{}, actor}, actor);
        return true;
    }
    if (!room || room->isOpening())
        return false;
    endRoom(*room, u"ended_by_admin"_s, events::Actor{{}, actor}, actor);
    return true;
}

void RoomService::endRoom(Room &room, const QString &reason, const events::Actor &by, const QString &endedBy)
{
    const qint64 at = nowMs();
    const QString roomId = room.id();
    const qint64 refuseUntil = at + m_config.endedRefusalMs;
    const qint64 retainUntil = m_config.historyRetentionMs > 0 ? at + m_config.historyRetentionMs : 0;
    if (clustered()) {
        // Every instance closes its part when the change arrives; the one
        // whose command ended it ends the history, once.
        SharedCommand c;
        c.type = SharedCommand::Type::End;
        c.roomId = roomId;
        c.by = by.userId;
        c.byConnection = by.connectionId;
        c.reason = reason;
        c.endedBy = endedBy;
        c.atMs = at;
        c.refuseUntilMs = m_config.endedRefusalMs > 0 ? refuseUntil : 0;
        m_cluster->command(c, this, [this, roomId, at, endedBy, retainUntil, refuseUntil](const CommandResult &r) {
            if (!r.ok)
                return;
            m_history.endRoom(roomId, at, endedBy, retainUntil, refuseUntil, this, [roomId](bool ok) {
                if (!ok)
                    qCWarning(lcRooms) << "history store could not end room" << roomId;
            });
        });
        return;
    }
    qCInfo(lcRooms) << "consultation ended" << roomId << reason;
    publish(events::ConsultationEnded{roomId, room.appointmentId(), reason, by, retainUntil == 0});
    const OutboundMessage ended = notice(MessageKind::ConsultationEnded,
                                         {{u"roomId"_s, roomId},
                                          {u"endedBy"_s, protocol::userIdToJson(endedBy)},
                                          {u"reason"_s, reason},
                                          {u"at"_s, static_cast<double>(at)}});
    closeWith(room, ended, u"consultation_ended"_s, u"consultation_ended"_s, nullptr);
    if (m_config.endedRefusalMs > 0)
        m_ended.insert(roomId, refuseUntil);
    m_history.endRoom(roomId, at, endedBy, retainUntil, refuseUntil, this, [roomId](bool ok) {
        if (!ok)
            qCWarning(lcRooms) << "history store could not end room" << roomId;
    });
}

// ---------------------------------------------------------------- closing

void RoomService::closeWith(Room &room, const OutboundMessage &message, const QString &memberReason,
                            const QString &roomReason, QStringList *closedConnections)
{
    const QString roomId = room.id();
    const qint64 appointmentId = room.appointmentId();
    QList<Peer *> peers;
    QStringList connections;
    for (const Member &m : room.m_members) {
        if (m.peer)
            peers.append(m.peer);
        connections.append(m.connectionId);
    }
    for (const WaitingGuest &g : room.m_waiting) {
        if (g.peer)
            peers.append(g.peer);
        connections.append(g.connectionId);
    }
    if (!peers.isEmpty())
        m_fanout.deliver(room, peers, message);
    for (const Member &m : std::as_const(room.m_members)) {
        delete m.graceTimer;
        unindex(m.connectionId, roomId);
        publish(events::MemberLeft{roomId, appointmentId, m.connectionId, m.identity.userId, memberReason, {}});
    }
    for (const WaitingGuest &g : std::as_const(room.m_waiting)) {
        unindex(g.connectionId, roomId);
        publish(events::AdmissionDecided{roomId, appointmentId, g.connectionId, g.identity.userId,
                                         u"cancelled"_s, {}});
    }
    m_rooms.remove(roomId);
    delete &room;
    if (clustered())
        forgetShared(roomId);
    qCInfo(lcRooms) << "room closed" << roomId << "connections" << connections.size() << roomReason;
    publish(events::RoomClosed{roomId, appointmentId, roomReason, connections});
    if (closedConnections)
        *closedConnections = connections;
}

std::optional<QStringList> RoomService::closeRoom(const QString &roomId, const QString &reason)
{
    Room *room = roomOf(roomId);
    if (clustered()) {
        // Closed on every instance when the change arrives.
        SharedCommand c;
        c.type = SharedCommand::Type::Close;
        c.roomId = roomId;
        c.reason = reason;
        m_cluster->command(c, this, {});
        QStringList connections;
        if (room) {
            for (const Member &m : room->members())
                connections.append(m.connectionId);
            for (const WaitingGuest &g : room->waiting())
                connections.append(g.connectionId);
        }
        return connections;
    }
    if (!room || room->isOpening())
        return std::nullopt;
    const OutboundMessage closed = notice(MessageKind::RoomClosed,
                                          {{u"roomId"_s, roomId},
                                           {u"appointmentId"_s, static_cast<double>(room->appointmentId())},
                                           {u"reason"_s, reason},
                                           {u"timestamp"_s, static_cast<double>(nowMs())}});
    QStringList connections;
    closeWith(*room, closed, u"room_closed"_s, reason, &connections);
    return connections;
}

RoomService::Closed RoomService::closeRoomsIdleSince(qint64 cutoffMs, const QString &reason)
{
    Closed closed;
    closed.rooms = idleSince(cutoffMs);
    closed.rooms.sort();
    for (const QString &id : std::as_const(closed.rooms)) {
        if (const auto members = closeRoom(id, reason))
            closed.connections += *members;
    }
    return closed;
}

void RoomService::lifecycleTick()
{
    const qint64 now = nowMs();
    for (auto it = m_ended.begin(); it != m_ended.end();) {
        if (*it <= now)
            it = m_ended.erase(it);
        else
            ++it;
    }
    if (clustered())
        expireDueAway();
    if (m_config.maxConsultationMs <= 0)
        return;
    QStringList over;
    for (Room *room : std::as_const(m_rooms)) {
        if (room->isOpening() || room->m_endsAtMs <= 0)
            continue;
        if (now >= room->m_endsAtMs) {
            over.append(room->id());
        } else if (!room->m_warned && now >= room->m_endsAtMs - m_config.warningBeforeEndMs) {
            room->m_warned = true;
            deliver(*room, room->recipients(QString(), std::nullopt),
                    notice(MessageKind::ConsultationWarning, {{u"roomId"_s, room->id()},
                                                              {u"endsAt"_s, static_cast<double>(room->m_endsAtMs)}}));
        }
    }
    for (const QString &id : std::as_const(over)) {
        if (Room *room = roomOf(id))
            endRoom(*room, u"max_duration"_s, events::Actor{{}, u"system"_s}, u"system"_s);
    }
}

} // namespace medrelay::server
