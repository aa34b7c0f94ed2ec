#include "events/EventLog.h"

namespace medrelay::server {

EventLog::EventLog(int capacity, QObject *parent)
    : QObject(parent)
    , m_capacity(capacity)
{}

void EventLog::add(const QString &kind, const QString &roomId, const QString &connectionId,
                   const QString &userId, const QString &detail)
{
    adminapi::Event e{m_nextSeq++, QDateTime::currentDateTimeUtc(), kind, roomId, connectionId, userId, detail};
    if (m_ring.size() >= m_capacity)
        m_ring.removeFirst();
    m_ring.append(e);
    Q_EMIT added(e);
}

adminapi::EventPage EventLog::since(qint64 since, int limit) const
{
    adminapi::EventPage page;
    page.nextSeq = m_nextSeq;
    for (const adminapi::Event &e : m_ring) {
        if (e.seq < since)
            continue;
        if (page.events.size() >= limit) {
            page.nextSeq = e.seq;
            break;
        }
        page.events.append(e);
    }
    return page;
}

} // namespace medrelay::server
