#include "audit/AuditRecorder.h"

#include "admin/AdminService.h"
#include "auth/Authenticator.h"
#include "realtime/Connection.h"
#include "realtime/ConnectionManager.h"

namespace medrelay::server {

using namespace Qt::StringLiterals;
using security::AuditEvent;

AuditRecorder::AuditRecorder(std::unique_ptr<security::AuditLog> log, QObject *parent)
    : QObject(parent)
    , m_log(std::move(log))
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

void AuditRecorder::observe(ConnectionManager &connections, Authenticator &auth, AdminService &admin,
                            bool authEnabled)
{
    connect(&connections, &ConnectionManager::connectionOpened, this, [this, authEnabled](Connection *c) {
        remember(c);
        // Unauthenticated: the connection is recorded with its address; the
        // claimed user id appears on its joins.
        if (!authEnabled)
            record(AuditEvent::Connect, c->connectionId(), {}, {}, u"unauthenticated"_s);
    });
    connect(&auth, &Authenticator::authenticated, this, [this](Connection *c) {
        remember(c);
        record(AuditEvent::Connect, c->connectionId(), {}, {}, u"token"_s);
    });
    connect(&auth, &Authenticator::authenticationFailed, this, [this](Connection *c, const QString &reason) {
        record(AuditEvent::AuthFailed, c->connectionId(), {}, {}, reason);
    });
    // Connected after the room service's slot, so a closing connection's
    // leaves are recorded before its disconnect.
    connect(&connections, &ConnectionManager::connectionClosed, this, [this](Connection *c) {
        record(AuditEvent::Disconnect, c->connectionId(), {}, {}, {});
        m_who.remove(c->connectionId());
    });
    connect(&admin, &AdminService::adminAction, this,
            [this](const QString &actor, const QString &action, const QString &target, const QString &) {
                security::AuditEntry e;
                e.event = AuditEvent::AdminAction;
                e.actor = actor;
                e.detail = action + u' ' + target;
                if (action == u"close_room"_s || action == u"end_consultation"_s)
                    e.roomId = target;
                else if (action == u"disconnect"_s)
                    e.connectionId = target;
                m_log->post(e);
            });
}

void AuditRecorder::roomEvent(const events::RoomEvent &event)
{
    std::visit(
        events::Overloaded{
            [](const events::RoomOpened &) {},
            [](const events::MemberAway &) {}, // recorded as a leave if it does not come back
            [this](const events::MemberJoined &e) {
                // Unauthenticated connections name their user on their first join.
                auto who = m_who.find(e.connectionId);
                if (who != m_who.end() && who->actor == u"anonymous"_s && !e.userId.isEmpty())
                    who->actor = e.userId;
                record(AuditEvent::Join, e.connectionId, e.roomId, e.appointmentId,
                       e.resumed ? u"resumed"_s : QString(), {}, e.userId);
            },
            [this](const events::MemberLeft &e) {
                if (e.by.connectionId.isEmpty())
                    record(AuditEvent::Leave, e.connectionId, e.roomId, e.appointmentId, e.reason, {}, e.userId);
                else
                    record(AuditEvent::Leave, e.connectionId, e.roomId, e.appointmentId,
                           e.reason + u" user="_s + e.userId, e.by.connectionId, e.by.userId);
            },
            [this](const events::JoinRefused &e) {
                record(AuditEvent::JoinDenied, e.connectionId, e.roomId, {}, e.code, {}, e.userId);
            },
            [this](const events::RoomClosed &e) {
                record(AuditEvent::RoomClosed, {}, e.roomId, e.appointmentId, e.reason);
            },
            [this](const events::GuestWaiting &e) {
                record(AuditEvent::Waiting, e.connectionId, e.roomId, e.appointmentId, {}, {}, e.userId);
            },
            [this](const events::AdmissionDecided &e) {
                const QString detail = e.decision + u" user="_s + e.userId;
                if (e.by.connectionId.isEmpty())
                    record(AuditEvent::Admission, e.connectionId, e.roomId, e.appointmentId, detail, {}, e.userId);
                else
                    record(AuditEvent::Admission, e.connectionId, e.roomId, e.appointmentId, detail,
                           e.by.connectionId, e.by.userId);
            },
            [this](const events::SettingsChanged &e) {
                record(AuditEvent::RoomSettings, e.by.connectionId, e.roomId, e.appointmentId,
                       u"waitingRoom=%1 locked=%2"_s.arg(e.waitingRoom ? u"on"_s : u"off"_s,
                                                         e.locked ? u"on"_s : u"off"_s),
                       {}, e.by.userId);
            },
            [this](const events::ConsultationEnded &e) {
                record(AuditEvent::ConsultationEnded, e.by.connectionId, e.roomId, e.appointmentId,
                       e.reason + (e.historyDeleted ? u" history=deleted"_s : u" history=retained"_s), {},
                       e.by.userId);
            },
        },
        event);
}

void AuditRecorder::recordAdminAuthFailure(const QString &path, const QHostAddress &peer)
{
    security::AuditEntry e;
    e.event = AuditEvent::AuthFailed;
    e.actor = u"admin"_s;
    e.address = peer.toString();
    e.detail = u"admin_token "_s + path;
    m_log->post(e);
}

void AuditRecorder::remember(const Connection *c)
{
    const Identity &id = c->identity();
    m_who.insert(c->connectionId(), Who{id.isSet() ? id.userId : u"anonymous"_s, id.role, c->remoteAddress()});
}

void AuditRecorder::record(AuditEvent event, const QString &connectionId, const QString &roomId,
                           std::optional<qint64> appointmentId, const QString &detail,
                           const QString &actorConnectionId, const QString &fallbackActor)
{
    security::AuditEntry e;
    e.event = event;
    e.detail = detail;
    e.roomId = roomId;
    e.appointmentId = appointmentId;
    e.connectionId = connectionId;
    const QString &actorKey = actorConnectionId.isEmpty() ? connectionId : actorConnectionId;
    const auto who = actorKey.isEmpty() ? m_who.cend() : m_who.constFind(actorKey);
    if (who != m_who.cend()) {
        e.actor = who->actor;
        e.role = who->role;
        e.address = who->address;
    } else {
        e.actor = fallbackActor.isEmpty() ? u"system"_s : fallbackActor;
    }
    m_log->post(e);
}

} // namespace medrelay::server
