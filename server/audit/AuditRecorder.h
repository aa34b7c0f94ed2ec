#pragma once
// Writes the audit trail: who connected (verified identity and address), who
// joined, left or was denied which room, failed authentications, admin
// actions and room closes. It only observes the other parts' signals; the
// records carry ids and reasons, never chat, whiteboard data, SDP or names.

#include "security/AuditLog.h"

#include <QHash>
#include <QHostAddress>
#include <QObject>

#include <memory>

namespace medrelay::adminapi {
struct Event;
}

namespace medrelay::server {

class AdminService;
class Authenticator;
class Connection;
class ConnectionManager;
class EventLog;
class RoomRegistry;

class AuditRecorder final : public QObject
{
    Q_OBJECT
public:
    AuditRecorder(std::unique_ptr<security::AuditLog> log, const RoomRegistry &rooms, QObject *parent = nullptr);
    ~AuditRecorder() override;
    Q_DISABLE_COPY_MOVE(AuditRecorder)

    void observe(ConnectionManager &connections, Authenticator &auth, EventLog &events, AdminService &admin,
                 bool authEnabled);
    [[nodiscard]] QString filePath() const;
    bool flush(int timeoutMs = 5000);

    // Records an admin request refused (wrong Origin, missing or wrong token).
    void recordAdminRefusal(const QHostAddress &peer, const QString &reason);

private:
    // Who a connection is, kept from its first record to its last, so
    // records written while it closes (its leaves) still name it.
    struct Who
    {
        QString actor;
        QString role;
        QString address;
    };
    void remember(const Connection *c);
    void record(security::AuditEvent event, const QString &connectionId, const QString &roomId, const QString &detail);
    void onEvent(const adminapi::Event &event);

    std::unique_ptr<security::AuditLog> m_log;
    const RoomRegistry &m_rooms;
    QHash<QString, Who> m_who;
};

} // namespace medrelay::server
