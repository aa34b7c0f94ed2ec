#pragma once
// Writes the audit trail: who connected (verified identity and address), who
// joined, left or was denied which room, failed authentications, admin
// actions and room closes. It only observes the other parts' signals; the
// records carry ids and reasons, never chat, whiteboard data, SDP or names.

#include "security/AuditLog.h"

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

private:
    void record(security::AuditEvent event, const Connection *c, const QString &roomId, const QString &detail);
    void onEvent(const adminapi::Event &event);

    std::unique_ptr<security::AuditLog> m_log;
    const RoomRegistry &m_rooms;
    ConnectionManager *m_connections = nullptr;
};

} // namespace medrelay::server
