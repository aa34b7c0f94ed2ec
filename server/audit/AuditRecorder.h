#pragma once
// Writes the audit trail: who connected (verified identity and address), who
// joined, left or was denied which room, failed authentications, admin
// actions and room closes, and refused admin requests counted per source
// address and window. It only observes the other parts' signals; the records
// carry ids and reasons, never chat, whiteboard data, SDP or names, and
// nothing a client chose (no request paths, no tokens).

#include "security/AuditLog.h"

#include <QHash>
#include <QHostAddress>
#include <QMap>
#include <QObject>
#include <QTimer>

#include <memory>

namespace medrelay::adminapi {
struct AuditHealth;
struct Event;
}

namespace medrelay::server {

class AdminService;
class Authenticator;
class Connection;
class ConnectionManager;
class EventLog;
class RoomRegistry;
struct ServerConfig;

class AuditRecorder final : public QObject
{
    Q_OBJECT
public:
    AuditRecorder(std::unique_ptr<security::AuditLog> log, const RoomRegistry &rooms, int refusalWindowMs,
                  QObject *parent = nullptr);
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
    [[nodiscard]] static Opened open(const ServerConfig &config, const RoomRegistry &rooms, QObject *parent);

    void observe(ConnectionManager &connections, Authenticator &auth, EventLog &events, AdminService &admin,
                 bool authEnabled);
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
    void writeRefusals();
    void record(security::AuditEvent event, const QString &connectionId, const QString &roomId, const QString &detail);
    void onEvent(const adminapi::Event &event);

    std::unique_ptr<security::AuditLog> m_log;
    const RoomRegistry &m_rooms;
    QHash<QString, Who> m_who;
    QHash<QString, Refusals> m_refusals; // by source address, this window
    Refusals m_refusalsElsewhere;        // from addresses beyond the cap, this window
    QTimer m_refusalWindow;
};

} // namespace medrelay::server
