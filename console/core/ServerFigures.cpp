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
    f.maxConnections = cap;
    f.rejectionsByReason = stats.rejectionsByReason;
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
}

} // namespace medrelay::console
