#include "messaging/IdleSweeper.h"

#include "messaging/MembershipHandler.h"
#include "rooms/RoomRegistry.h"

#include <QLoggingCategory>

// Its own category, shown at info level in production too: operators want to
// see rooms closed for inactivity.
Q_LOGGING_CATEGORY(lcSweep, "medrelay.sweep")

namespace medrelay::server {

using namespace Qt::StringLiterals;

IdleSweeper::IdleSweeper(RoomRegistry &rooms, MembershipHandler &membership, int idleTimeoutMs, int intervalMs,
                         QObject *parent)
    : QObject(parent)
    , m_rooms(rooms)
    , m_membership(membership)
    , m_idleTimeoutMs(idleTimeoutMs)
{
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &IdleSweeper::sweep);
    m_timer.start();
}

int IdleSweeper::sweep()
{
    const QDateTime cutoff = QDateTime::currentDateTimeUtc().addMSecs(-m_idleTimeoutMs);
    const QStringList idle = m_rooms.idleSince(cutoff);
    for (const QString &id : idle)
        m_membership.closeRoom(id, u"idle"_s);
    if (!idle.isEmpty())
        qCInfo(lcSweep) << "idle sweep closed" << idle.size() << "room(s); rooms left:" << m_rooms.count();
    Q_EMIT swept(static_cast<int>(idle.size()));
    return static_cast<int>(idle.size());
}

} // namespace medrelay::server
