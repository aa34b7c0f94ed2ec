#include "core/ActivityHistory.h"

#include <algorithm>

namespace medrelay::console {

ActivityHistory::ActivityHistory(int capacity)
    : m_ring(std::max(1, capacity))
{
}

void ActivityHistory::append(const ActivitySample &sample)
{
    m_ring[m_head] = sample;
    m_head = (m_head + 1) % capacity();
    m_size = std::min(m_size + 1, capacity());
}

void ActivityHistory::clear()
{
    m_head = 0;
    m_size = 0;
}

void ActivityHistory::setCapacity(int capacity)
{
    QList<ActivitySample> kept = samples();
    capacity = std::max(1, capacity);
    if (kept.size() > capacity)
        kept.remove(0, kept.size() - capacity);
    m_ring = QList<ActivitySample>(capacity);
    m_head = 0;
    m_size = 0;
    for (const auto &s : std::as_const(kept))
        append(s);
}

const ActivitySample &ActivityHistory::at(int i) const
{
    Q_ASSERT(i >= 0 && i < m_size);
    const int oldest = (m_head - m_size + capacity()) % capacity();
    return m_ring.at((oldest + i) % capacity());
}

QList<ActivitySample> ActivityHistory::samples() const
{
    QList<ActivitySample> out;
    out.reserve(m_size);
    for (int i = 0; i < m_size; ++i)
        out.append(at(i));
    return out;
}

double ActivityHistory::peakMessagesPerSecond(const QDateTime &since) const
{
    double peak = 0;
    for (int i = 0; i < m_size; ++i) {
        const ActivitySample &s = at(i);
        if (!since.isValid() || s.time >= since)
            peak = std::max({peak, s.messagesInPerSecond, s.messagesOutPerSecond});
    }
    return peak;
}

int ActivityHistory::peakConnections(const QDateTime &since) const
{
    int peak = 0;
    for (int i = 0; i < m_size; ++i) {
        const ActivitySample &s = at(i);
        if (!since.isValid() || s.time >= since)
            peak = std::max(peak, s.connections);
    }
    return peak;
}

} // namespace medrelay::console
