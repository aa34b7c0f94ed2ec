#pragma once
// Periodically closes rooms with no activity for the configured time, so a
// forgotten consultation does not hold memory forever. Each sweep that closes
// rooms is logged.

#include <QObject>
#include <QTimer>

namespace medrelay::server {

class MembershipHandler;
class RoomRegistry;

class IdleSweeper final : public QObject
{
    Q_OBJECT
public:
    IdleSweeper(RoomRegistry &rooms, MembershipHandler &membership, int idleTimeoutMs, int intervalMs,
                QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(IdleSweeper)

    // Closes idle rooms now; returns how many.
    int sweep();

Q_SIGNALS:
    void swept(int closedRooms);

private:
    RoomRegistry &m_rooms;
    MembershipHandler &m_membership;
    int m_idleTimeoutMs = 0;
    QTimer m_timer;
};

} // namespace medrelay::server
