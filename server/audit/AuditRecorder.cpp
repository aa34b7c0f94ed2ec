#include "audit/AuditRecorder.h"

#include "admin/AdminService.h"
#include "auth/Authenticator.h"
#include "events/EventLog.h"
#include "realtime/ConnectionManager.h"
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
    m_connections = &connections;
    if (!authEnabled) {
        // Unauthenticated: the connection is recorded with its address; the
        // claimed user id appears on its joins.
        connect(&connections, &ConnectionManager::connectionOpened, this,
                [this](Connection *c) { record(AuditEvent::Connect, c, {}, u"unauthenticated"_s); });
    }
    connect(&auth, &Authenticator::authenticated, this,
            [this](Connection *c) { record(AuditEvent::Connect, c, {}, u"token"_s); });
    connect(&auth, &Authenticator::authenticationFailed, this,
            [this](Connection *c, const QString &reason) { record(AuditEvent::AuthFailed, c, {}, reason); });
    connect(&connections, &ConnectionManager::connectionClosed, this,
            [this](Connection *c) { record(AuditEvent::Disconnect, c, {}, {}); });
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

void AuditRecorder::onEvent(const adminapi::Event &event)
{
    const Connection *c = m_connections ? m_connections->find(event.connectionId) : nullptr;
    if (event.kind == u"join"_s)
        record(AuditEvent::Join, c, event.roomId, {});
    else if (event.kind == u"leave"_s)
        record(AuditEvent::Leave, c, event.roomId, event.detail);
    else if (event.kind == u"join_denied"_s)
        record(AuditEvent::JoinDenied, c, event.roomId, event.detail);
    else if (event.kind == u"room_closed"_s)
        record(AuditEvent::RoomClosed, nullptr, event.roomId, event.detail);
    else if (event.kind == u"token_expired"_s)
        record(AuditEvent::Disconnect, c, {}, u"token_expired"_s);
}

void AuditRecorder::record(AuditEvent event, const Connection *c, const QString &roomId, const QString &detail)
{
    security::AuditEntry e;
    e.event = event;
    e.detail = detail;
    e.roomId = roomId;
    if (c) {
        const Identity &id = c->identity();
        e.actor = id.isSet() ? id.userId : u"anonymous"_s;
        e.role = id.role;
        e.connectionId = c->connectionId();
        e.address = c->remoteAddress();
    } else {
        e.actor = u"system"_s;
    }
    if (const Room *room = roomId.isEmpty() ? nullptr : m_rooms.find(roomId))
        e.appointmentId = room->appointmentId();
    m_log->post(e);
}

} // namespace medrelay::server
