#pragma once
// Writes the audit trail: who connected (verified identity and address), who
// joined, left, waited, was admitted, denied, removed or refused which room,
// what hosts changed, who ended a consultation, failed authentications, admin
// actions, and refused admin requests counted per source address and window.
// It only observes: connection signals and the room service's typed events.
// Records carry ids and reasons, never chat, whiteboard data, SDP or names,
// and nothing a client chose (no request paths, no tokens).

#include "consultation/RoomEvents.h"
#include "security/AuditLog.h"

#include <QHash>
#include <QHostAddress>
#include <QMap>
#include <QObject>
#include <QTimer>

#include <memory>
#include <optional>

namespace medrelay::adminapi {
struct AuditHealth;
}

namespace medrelay::server {

class AdminService;
class Authenticator;
class Connection;
class ConnectionManager;
struct ServerConfig;

class AuditRecorder final : public QObject, public events::RoomEventObserver
{
    Q_OBJECT
public:
    AuditRecorder(std::unique_ptr<security::AuditLog> log, int refusalWindowMs, QObject *parent = nullptr);
    ~AuditRecorder() override;
    Q_DISABLE_COPY_MOVE(AuditRecorder)

    struct Opened
    {
        AuditRecorder *recorder = nullptr; // null on error
        QString error;
        QStringList notes; // for the start-up log (key generated, file set aside, ...)
    };
    // Opens the audit log in config.dataDir as the configuration says: the
    // key (--audit-key-file, or <data-dir>/audit.key, created when missing),
    // rotation, retention, backlog and checkpoints, which also go to the
    // system log (syslog, the journal under systemd).
    [[nodiscard]] static Opened open(const ServerConfig &config, QObject *parent);

    void observe(ConnectionManager &connections, Authenticator &auth, AdminService &admin, bool authEnabled);
    void roomEvent(const events::RoomEvent &event) override;
    [[nodiscard]] QString filePath() const;
    // Waits until everything recorded so far is on disk and checkpointed.
    bool flush(int timeoutMs = 5000);
    [[nodiscard]] adminapi::AuditHealth health() const;

    // Counts an admin request refused (wrong Origin, missing or wrong
    // token): one `admin_refused` record per source address per window, so a
    // flood of refused requests costs a few records, not one each.
    void recordAdminRefusal(const QHostAddress &peer, const QString &reason);

private:
    struct Refusals
    {
        qint64 total = 0;
        QMap<QString, qint64> byReason;
    };
    // Who a connection is, kept from its first record to its last, so
    // records written while it closes (its leaves) still name it.
    struct Who
    {
        QString actor;
        QString role;
        QString address;
    };
    // The connection as the audit trail names it, remembered from the first
    // time any signal carrying it arrives: signals reach the recorder in no
    // guaranteed order (a token in the URL is refused while the connection
    // is still being opened).
    const Who &who(const Connection *c);
    void record(security::AuditEvent event, const Connection *c, const QString &detail);
    // One record about `connectionId` in `roomId`, done by the connection
    // `actorConnectionId` (by default the subject itself). When the actor is
    // no longer known (its connection closed), `fallbackActor` names it.
    void record(security::AuditEvent event, const QString &connectionId, const QString &roomId,
                std::optional<qint64> appointmentId, const QString &detail, const QString &actorConnectionId = {},
                const QString &fallbackActor = {});
    void writeRefusals();

    std::unique_ptr<security::AuditLog> m_log;
    QHash<QString, Who> m_who;
    QHash<QString, Refusals> m_refusals; // by source address, this window
    Refusals m_refusalsElsewhere;        // from addresses beyond the cap, this window
    QTimer m_refusalWindow;
};

} // namespace medrelay::server
