#pragma once
// The server's headline figures as the console shows them (header, alerts):
// one value type whichever way they arrive, filled from /health and /stats
// when polling, and from the admin stream's counters.

#include "adminapi/AdminTypes.h"

#include <QDateTime>
#include <QMap>
#include <QString>

#include <optional>

namespace medrelay::console {

struct ServerFigures
{
    QString version;
    QString mode;   // "development" or "production"
    QString status; // "healthy", "degraded" (audit writes failing, or Redis out of reach) or "draining"
    QDateTime timestamp; // the server's clock when these were taken
    double uptimeSeconds = 0;
    int connections = 0;
    int rooms = 0;
    bool hasRates = false; // false: only /health has answered so far
    double messagesInPerSecond = 0;
    double messagesOutPerSecond = 0;
    qint64 residentMemoryBytes = 0;
    std::optional<int> maxConnections; // only when the server reports its cap
    QMap<QString, qint64> rejectionsByReason; // totals since the server started
    std::optional<adminapi::AuditHealth> audit; // when the server keeps an audit log
    std::optional<adminapi::ClusterInfo> cluster; // when the server is one of a cluster

    [[nodiscard]] bool isDraining() const { return status == QLatin1StringView("draining"); }

    // Everything /stats says; `cap` is the server's connection cap if it reported one.
    [[nodiscard]] static ServerFigures fromStats(const adminapi::Stats &stats, std::optional<int> cap = std::nullopt);
    // The admin stream's counters, taken at `at` (the server's clock).
    [[nodiscard]] static ServerFigures fromCounters(const adminapi::Counters &counters, const QDateTime &at);
    // /health's subset (status, uptime, connections, rooms, audit); the rest is kept.
    void applyHealth(const adminapi::Health &health);

    friend bool operator==(const ServerFigures &, const ServerFigures &) = default;
};

} // namespace medrelay::console
