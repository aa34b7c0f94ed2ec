#pragma once
// The server's headline figures as the console shows them (header, alerts):
// one value type whichever way they arrive, filled from /health and /stats
// today and from an event stream's counters later.

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
    QString status; // "healthy" or "draining"
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

    [[nodiscard]] bool isDraining() const { return status == QLatin1StringView("draining"); }

    // Everything /stats says; `cap` is the server's connection cap if it reported one.
    [[nodiscard]] static ServerFigures fromStats(const adminapi::Stats &stats, std::optional<int> cap = std::nullopt);
    // /health's subset (status, uptime, connections, rooms); the rest is kept.
    void applyHealth(const adminapi::Health &health);

    friend bool operator==(const ServerFigures &, const ServerFigures &) = default;
};

} // namespace medrelay::console
