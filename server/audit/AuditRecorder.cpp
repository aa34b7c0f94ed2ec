#include "audit/AuditRecorder.h"

#include "admin/AdminService.h"
#include "auth/Authenticator.h"
#include "events/EventLog.h"
#include "realtime/ConnectionManager.h"
#include "realtime/Connection.h"
#include "rooms/RoomRegistry.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;
using security::AuditEvent;

AuditRecorder::AuditRecorder(std::unique_ptr<security::AuditLog> log, const RoomRegistry &rooms, QObject *parent)
    : QObject(parent)
    , m_log(std::move(log))
    , m_rooms(rooms)
{}

AuditRecorder::~AuditRecorder()
{
    if (m_log)
        m_log->flush();
}

QString AuditRecorder::filePath() const
{
    return m_log ? m_log->filePath() : QString();
}

bool AuditRecorder::flush(int timeoutMs)
{
    return m_log && m_log->flush(timeoutMs);
}

void AuditRecorder::observe(ConnectionManager &connections, Authenticator &auth, EventLog &events,
                            AdminService &admin, bool authEnabled)
{
    connect(&connections, &ConnectionManager::connectionOpened, this, [this, authEnabled](Connection *c) {
        remember(c);
        // Unauthenticated: the connection is recorded with its address; the
        // claimed user id appears on its joins.
        if (!authEnabled)
            record(AuditEvent::Connect, c->connectionId(), {}, u"unauthenticated"_s);
    });
    connect(&auth, &Authenticator::authenticated, this, [this](Connection *c) {
        remember(c);
        record(AuditEvent::Connect, c->connectionId(), {}, u"token"_s);
    });
    connect(&auth, &Authenticator::authenticationFailed, this,
            [this](Connection *c, const QString &reason) { record(AuditEvent::AuthFailed, c->connectionId(), {}, reason); });
    // Connected after the membership handler's slot, so a closing
    // connection's leaves are recorded before its disconnect.
    connect(&connections, &ConnectionManager::connectionClosed, this, [this](Connection *c) {
        record(AuditEvent::Disconnect, c->connectionId(), {}, {});
        m_who.remove(c->connectionId());
    });
    connect(&events, &EventLog::added, this, &AuditRecorder::onEvent);
    connect(&admin, &AdminService::adminAction, this,
            [this](const QString &actor, const QString &action, const QString &target, const QString &) {
                security::AuditEntry e;
                e.event = AuditEvent::AdminAction;
                e.actor = actor;
                e.detail = action + u' ' + target;
                if (action == u"close_room"_s)
                    e.roomId = target;
                else if (action == u"disconnect"_s)
                    e.connectionId = target;
                m_log->post(e);
            });
}

void AuditRecorder::recordAdminRefusal(const QHostAddress &peer, const QString &reason)
{
    security::AuditEntry e;
    e.event = AuditEvent::AuthFailed;
    e.actor = u"admin"_s;
    e.address = peer.toString();
    e.detail = u"admin "_s + reason;
    m_log->post(e);
}

void AuditRecorder::remember(const Connection *c)
{
    const Identity &id = c->identity();
    m_who.insert(c->connectionId(), Who{id.isSet() ? id.userId : u"anonymous"_s, id.role, c->remoteAddress()});
}

void AuditRecorder::onEvent(const adminapi::Event &event)
{
    if (event.kind == u"join"_s) {
        // Unauthenticated connections name their user on their first join.
        auto who = m_who.find(event.connectionId);
        if (who != m_who.end() && who->actor == u"anonymous"_s && !event.userId.isEmpty())
            who->actor = event.userId;
        record(AuditEvent::Join, event.connectionId, event.roomId, {});
    }
    else if (event.kind == u"leave"_s)
        record(AuditEvent::Leave, event.connectionId, event.roomId, event.detail);
    else if (event.kind == u"join_denied"_s)
        record(AuditEvent::JoinDenied, event.connectionId, event.roomId, event.detail);
    else if (event.kind == u"room_closed"_s)
        record(AuditEvent::RoomClosed, {}, event.roomId, event.detail);
}

void AuditRecorder::record(AuditEvent event, const QString &connectionId, const QString &roomId, const QString &detail)
{
    security::AuditEntry e;
    e.event = event;
    e.detail = detail;
    e.roomId = roomId;
    const auto who = m_who.constFind(connectionId);
    if (!connectionId.isEmpty() && who != m_who.cend()) {
        e.actor = who->actor;
        e.role = who->role;
        e.connectionId = connectionId;
        e.address = who->address;
    } else {
        e.actor = u"system"_s;
    }
    if (const Room *room = roomId.isEmpty() ? nullptr : m_rooms.find(roomId))
        e.appointmentId = room->appointmentId();
    m_log->post(e);
}

} // namespace medrelay::server
