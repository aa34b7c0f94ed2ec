#pragma once
// Periodically closes rooms with no activity for the configured time, so a
// forgotten consultation does not hold memory forever. Only traffic that
// reaches somebody counts as activity. Each sweep that closes rooms is logged.

#include <QObject>
#include <QTimer>

namespace medrelay::server {

class RoomService;

class IdleSweeper final : public QObject
{
    Q_OBJECT
public:
    IdleSweeper(RoomService &rooms, int idleTimeoutMs, int intervalMs, QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(IdleSweeper)

    // Closes idle rooms now; returns how many.
    int sweep();

Q_SIGNALS:
    void swept(int closedRooms);

private:
    RoomService &m_rooms;
    int m_idleTimeoutMs = 0;
    QTimer m_timer;
};

} // namespace medrelay::server
