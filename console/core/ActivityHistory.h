#pragma once
// The last few minutes of server activity (messages/s in and out,
// connections, rooms), one sample per poll, in a fixed-size ring so a console
// left open for weeks uses the same memory as on its first minute.

#include <QDateTime>
#include <QList>

namespace medrelay::console {

struct ActivitySample
{
    QDateTime time;
    double messagesInPerSecond = 0;
    double messagesOutPerSecond = 0;
    int connections = 0;
    int rooms = 0;

    friend bool operator==(const ActivitySample &, const ActivitySample &) = default;
};

class ActivityHistory final
{
public:
    // 600 samples: ten minutes at one poll a second.
    explicit ActivityHistory(int capacity = 600);

    void append(const ActivitySample &sample);
    void clear();
    // Keeps the newest min(size, capacity) samples.
    void setCapacity(int capacity);

    [[nodiscard]] int size() const { return m_size; }
    [[nodiscard]] int capacity() const { return static_cast<int>(m_ring.size()); }
    [[nodiscard]] bool isEmpty() const { return m_size == 0; }
    // 0 is the oldest sample kept, size() - 1 the newest.
    [[nodiscard]] const ActivitySample &at(int i) const;
    [[nodiscard]] const ActivitySample &latest() const { return at(m_size - 1); }
    [[nodiscard]] QList<ActivitySample> samples() const;

    // Peaks over the samples kept at or after `since` (all when invalid), for chart scales.
    [[nodiscard]] double peakMessagesPerSecond(const QDateTime &since = {}) const;
    [[nodiscard]] int peakConnections(const QDateTime &since = {}) const;

private:
    QList<ActivitySample> m_ring;
    int m_head = 0; // where the next sample goes
    int m_size = 0;
};

} // namespace medrelay::console
