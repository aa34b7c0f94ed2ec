#include "audit/AuditRecorder.h"

#include "admin/AdminService.h"
#include "adminapi/AdminTypes.h"
#include "config/ServerConfig.h"
#include "auth/Authenticator.h"
#include "realtime/ConnectionManager.h"
#include "realtime/Connection.h"
#include "security/AuditFiles.h"
#include "security/AuditKeyFile.h"

#include <QDir>
#include <QFile>

#include <syslog.h>

namespace medrelay::server {

using namespace Qt::StringLiterals;
using security::AuditEvent;

namespace {

// Distinct source addresses counted per window; the rest share one count, so
// a flood from many addresses cannot grow the table.
constexpr qsizetype kMaxRefusalSources = 1024;

} // namespace

AuditRecorder::AuditRecorder(std::unique_ptr<security::AuditLog> log, int refusalWindowMs, QObject *parent)
    : QObject(parent)
    , m_log(std::move(log))
{
    m_refusalWindow.setSingleShot(true);
    m_refusalWindow.setInterval(refusalWindowMs);
    connect(&m_refusalWindow, &QTimer::timeout, this, &AuditRecorder::writeRefusals);
}

AuditRecorder::Opened AuditRecorder::open(const ServerConfig &config, QObject *parent)
{
    Opened out;
    security::AuditLogOptions options;
    QString keyPath = config.auditKeyFile;
    security::AuditKeyFileResult key;
    if (keyPath.isEmpty()) {
        // Nothing configured: a key of our own beside the log. It protects
        // against whoever can write the log but not read the data directory's
        // key; a key file the service cannot write (--audit-key-file, as the
        // Debian package sets up) protects against more. See SECURITY.md.
        if (!QDir(config.dataDir).exists()) {
            if (!QDir().mkpath(config.dataDir)) {
                out.error = u"cannot create audit data directory '%1'"_s.arg(config.dataDir);
                return out;
            }
            QFile::setPermissions(config.dataDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        }
        keyPath = QDir(config.dataDir).filePath(security::AuditFiles::kKey);
        key = security::loadOrCreateAuditKeyFile(keyPath);
    } else {
        key = security::loadAuditKeyFile(keyPath);
    }
    if (!key.key) {
        out.error = key.error;
        return out;
    }
    if (key.created)
        out.notes.append(u"audit key: created %1 (keep a copy off this host: verifying the log needs it)"_s.arg(
            keyPath));
    out.notes.append(u"audit key: %1 (id %2)"_s.arg(keyPath, QString::fromLatin1(key.key->id)));
    options.key = key.key;
    options.rotateBytes = config.auditRotateBytes;
    options.rotateDaily = config.auditRotateDaily;
    options.retentionDays = config.auditRetentionDays;
    options.backlogLimit = config.auditBacklogLimit;
    options.checkpointIntervalMs = config.auditCheckpointIntervalMs;
    // The system log keeps a copy of every checkpoint the service user cannot
    // rewrite, and hears of failing writes even when the disk is full.
    ::openlog("medrelay-server", LOG_PID, LOG_DAEMON);
    options.onCheckpoint = [](const QByteArray &checkpoint) {
        ::syslog(LOG_NOTICE, "audit checkpoint %s", checkpoint.constData());
    };
    options.onAlert = [](const QString &message) { ::syslog(LOG_ERR, "audit: %s", qPrintable(message)); };

    auto opened = security::AuditLog::open(config.dataDir, options);
    if (!opened.log) {
        out.error = opened.error;
        return out;
    }
    out.recorder = new AuditRecorder(std::move(opened.log), config.auditRefusalWindowMs, parent);
    return out;
}

adminapi::AuditHealth AuditRecorder::health() const
{
    const security::AuditLogStatus s = m_log->status();
    adminapi::AuditHealth h;
    h.backlog = qint64(s.backlog);
    h.failedWrites = qint64(s.failedWrites);
    h.droppedRecords = qint64(s.droppedRecords);
    h.recordsWritten = qint64(s.written);
    h.behind = s.behind;
    return h;
}

AuditRecorder::~AuditRecorder()
{
    writeRefusals();
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
        // A connection refused while it was being opened has closed already.
        if (c->isClosing())
            return;
        // Unauthenticated: the connection is recorded with its address; the
        // claimed user id appears on its joins.
        if (!authEnabled)
            record(AuditEvent::Connect, c, u"unauthenticated"_s);
        else
            who(c);
    });
    connect(&auth, &Authenticator::authenticated, this, [this](Connection *c) {
        m_who.remove(c->connectionId()); // named by its token from now on
        record(AuditEvent::Connect, c, u"token"_s);
    });
    connect(&auth, &Authenticator::authenticationFailed, this,
            [this](Connection *c, const QString &reason) { record(AuditEvent::AuthFailed, c, reason); });
    // Connected after the room service's slot, so a closing connection's
    // leaves are recorded before its disconnect.
    connect(&connections, &ConnectionManager::connectionClosed, this, [this](Connection *c) {
        record(AuditEvent::Disconnect, c, {});
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

void AuditRecorder::recordAdminRefusal(const QHostAddress &peer, const QString &reason)
{
    const QString address = peer.toString();
    auto it = m_refusals.find(address);
    if (it == m_refusals.end() && m_refusals.size() < kMaxRefusalSources)
        it = m_refusals.insert(address, {});
    Refusals &r = it == m_refusals.end() ? m_refusalsElsewhere : *it;
    ++r.total;
    ++r.byReason[reason];
    if (!m_refusalWindow.isActive())
        m_refusalWindow.start();
}

void AuditRecorder::writeRefusals()
{
    m_refusalWindow.stop();
    if (!m_log)
        return;
    const auto write = [this](const QString &address, const Refusals &r, const QString &prefix) {
        security::AuditEntry e;
        e.event = AuditEvent::AdminRefused;
        e.actor = u"anonymous"_s;
        e.address = address;
        // Counts and the server's own reason names only: nothing of the
        // requests (paths, tokens) reaches the log.
        e.detail = prefix + u"count=%1"_s.arg(r.total);
        for (auto reason = r.byReason.cbegin(); reason != r.byReason.cend(); ++reason)
            e.detail += u" %1=%2"_s.arg(reason.key()).arg(reason.value());
        e.detail += u" window_ms=%1"_s.arg(m_refusalWindow.interval());
        m_log->post(e);
    };
    for (auto it = m_refusals.cbegin(); it != m_refusals.cend(); ++it)
        write(it.key(), it.value(), {});
    if (m_refusalsElsewhere.total > 0)
        write({}, m_refusalsElsewhere, u"other_addresses "_s);
    m_refusals.clear();
    m_refusalsElsewhere = {};
}

const AuditRecorder::Who &AuditRecorder::who(const Connection *c)
{
    auto it = m_who.find(c->connectionId());
    if (it == m_who.end()) {
        const Identity &id = c->identity();
        it = m_who.insert(c->connectionId(),
                          Who{id.isSet() ? id.userId : u"anonymous"_s, id.role, c->remoteAddress()});
    }
    return *it;
}

void AuditRecorder::record(AuditEvent event, const Connection *c, const QString &detail)
{
    const Who &w = who(c);
    security::AuditEntry e;
    e.event = event;
    e.detail = detail;
    e.actor = w.actor;
    e.role = w.role;
    e.connectionId = c->connectionId();
    e.address = w.address;
    m_log->post(e);
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
