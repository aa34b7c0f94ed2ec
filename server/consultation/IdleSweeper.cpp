#include "consultation/IdleSweeper.h"

#include "consultation/RoomService.h"

#include <QDateTime>
#include <QLoggingCategory>

// Its own category, shown at info level in production too: operators want to
// see rooms closed for inactivity.
Q_LOGGING_CATEGORY(lcSweep, "medrelay.sweep")

namespace medrelay::server {

using namespace Qt::StringLiterals;

IdleSweeper::IdleSweeper(RoomService &rooms, int idleTimeoutMs, int intervalMs, QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
    , m_idleTimeoutMs(idleTimeoutMs)
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &IdleSweeper::sweep);
    m_timer.start();
}

int IdleSweeper::sweep()
{
    const qint64 cutoff = QDateTime::currentMSecsSinceEpoch() - m_idleTimeoutMs;
    const auto closed = m_rooms.closeRoomsIdleSince(cutoff, u"idle"_s);
    const int count = static_cast<int>(closed.rooms.size());
    if (count > 0)
        qCInfo(lcSweep) << "idle sweep closed" << count << "room(s); rooms left:" << m_rooms.count();
    Q_EMIT swept(count);
    return count;
}

} // namespace medrelay::server
