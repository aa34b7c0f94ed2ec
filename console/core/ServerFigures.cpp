#include "core/ServerFigures.h"

namespace medrelay::console {

ServerFigures ServerFigures::fromStats(const adminapi::Stats &stats, std::optional<int> cap)
{
    ServerFigures f;
    f.version = stats.version;
    f.mode = stats.mode;
    f.status = stats.status;
    f.timestamp = stats.timestamp;
    f.uptimeSeconds = stats.uptimeSeconds;
    f.connections = stats.connections;
    f.rooms = static_cast<int>(stats.rooms.size());
    f.hasRates = true;
    f.messagesInPerSecond = stats.perSecond.messagesIn;
    f.messagesOutPerSecond = stats.perSecond.messagesOut;
    f.residentMemoryBytes = stats.residentMemoryBytes;
    f.maxConnections = cap ? cap : (stats.maxConnections > 0 ? std::optional<int>(stats.maxConnections) : std::nullopt);
    f.rejectionsByReason = stats.rejectionsByReason;
    f.cluster = stats.cluster;
    return f;
}

ServerFigures ServerFigures::fromCounters(const adminapi::Counters &c, const QDateTime &at)
{
    ServerFigures f;
    f.version = c.version;
    f.mode = c.mode;
    f.status = c.status;
    f.timestamp = at;
    f.uptimeSeconds = c.uptimeSeconds;
    f.connections = c.connections;
    f.rooms = c.rooms;
    f.hasRates = true;
    f.messagesInPerSecond = c.perSecond.messagesIn;
    f.messagesOutPerSecond = c.perSecond.messagesOut;
    f.residentMemoryBytes = c.residentMemoryBytes;
    if (c.maxConnections > 0)
        f.maxConnections = c.maxConnections;
    f.rejectionsByReason = c.rejectionsByReason;
    f.audit = c.audit;
    f.cluster = c.cluster;
    return f;
}

void ServerFigures::applyHealth(const adminapi::Health &health)
{
    status = health.status;
    if (health.timestamp.isValid())
        timestamp = health.timestamp;
    uptimeSeconds = health.uptimeSeconds;
    connections = health.connections;
    rooms = health.rooms;
    audit = health.audit;
    cluster = health.cluster;
}

} // namespace medrelay::console
