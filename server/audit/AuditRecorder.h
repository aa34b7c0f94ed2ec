#pragma once
// Writes the audit trail: who connected (verified identity and address), who
// joined, left, waited, was admitted, denied, removed or refused which room,
// what hosts changed, who ended a consultation, failed authentications and
// admin actions. It only observes: connection signals and the room
// service's typed events. Records carry ids and reasons, never chat,
// whiteboard data, SDP or names.

#include "consultation/RoomEvents.h"
#include "security/AuditLog.h"

#include <QHash>
#include <QHostAddress>
#include <QObject>

#include <memory>
#include <optional>

namespace medrelay::server {

class AdminService;
class Authenticator;
class Connection;
class ConnectionManager;

class AuditRecorder final : public QObject, public events::RoomEventObserver
{
    Q_OBJECT
public:
    explicit AuditRecorder(std::unique_ptr<security::AuditLog> log, QObject *parent = nullptr);
    ~AuditRecorder() override;
    Q_DISABLE_COPY_MOVE(AuditRecorder)

    void observe(ConnectionManager &connections, Authenticator &auth, AdminService &admin, bool authEnabled);
    void roomEvent(const events::RoomEvent &event) override;
    [[nodiscard]] QString filePath() const;
    bool flush(int timeoutMs = 5000);

    // Records an admin request refused for a missing or wrong token.
    void recordAdminAuthFailure(const QString &path, const QHostAddress &peer);

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
    // One record about `connectionId` in `roomId`, done by the connection
    // `actorConnectionId` (by default the subject itself). When the actor is
    // no longer known (its connection closed), `fallbackActor` names it.
    void record(security::AuditEvent event, const QString &connectionId, const QString &roomId,
                std::optional<qint64> appointmentId, const QString &detail, const QString &actorConnectionId = {},
                const QString &fallbackActor = {});

    std::unique_ptr<security::AuditLog> m_log;
    QHash<QString, Who> m_who;
};

} // namespace medrelay::server
