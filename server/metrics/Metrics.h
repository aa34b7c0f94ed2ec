#pragma once
// Counters for /stats and /metrics. Counters are relaxed atomics so any
// thread may bump them; rates are computed once a second by tick().

#include "protocol/ErrorCode.h"
#include "protocol/MessageKind.h"

#include <QHash>
#include <QMutex>
#include <QString>

#include <array>
#include <atomic>

namespace medrelay::server {

// Why a connection or request was refused or closed by the server.
enum class Rejection : quint8 {
    TooManyConnections,
    TooManyFromAddress,
    MessageTooLarge,
    RateLimited,
    SlowConsumer,
    PingTimeout,
    RequestTimeout,
    BadRequest,
    HeadTooLarge,
    UpgradeNotFound,
    OriginForbidden,
    Draining,
    AuthFailed,
    TokenExpired,
    Kicked,
    PendingEvicted, // an idle pending socket closed to make room for another address
    Count
};

[[nodiscard]] QLatin1StringView rejectionName(Rejection r);

class Metrics final
{
public:
    Metrics() = default;
    Q_DISABLE_COPY_MOVE(Metrics)

    void messageIn(protocol::MessageKind kind, qint64 bytes);
    void invalidIn(qint64 bytes); // a frame that did not parse into a known kind
    void messageOut(qint64 bytes, qint64 count = 1);
    void error(protocol::ErrorCode code);
    void rejection(Rejection reason);
    void connectionAccepted();
    void authFailure(const QString &reason);

    [[nodiscard]] qint64 messagesIn(protocol::MessageKind kind) const;
    [[nodiscard]] qint64 errors(protocol::ErrorCode code) const;
    [[nodiscard]] qint64 rejections(Rejection reason) const;
    [[nodiscard]] qint64 totalMessagesIn() const;
    [[nodiscard]] qint64 totalMessagesOut() const { return m_messagesOut.load(std::memory_order_relaxed); }
    [[nodiscard]] qint64 totalBytesIn() const { return m_bytesIn.load(std::memory_order_relaxed); }
    [[nodiscard]] qint64 totalBytesOut() const { return m_bytesOut.load(std::memory_order_relaxed); }
    [[nodiscard]] qint64 connectionsAccepted() const { return m_accepted.load(std::memory_order_relaxed); }
    [[nodiscard]] QHash<QString, qint64> authFailures() const;

    struct Rates
    {
        double messagesIn = 0, messagesOut = 0, bytesIn = 0, bytesOut = 0;
    };
    // Recomputes per-second rates from the counters; call about once a second.
    void tick(qint64 elapsedMs);
    [[nodiscard]] Rates rates() const;

private:
    std::array<std::atomic<qint64>, protocol::kMessageKindCount> m_in{};
    std::array<std::atomic<qint64>, protocol::kErrorCodeCount> m_errors{};
    std::array<std::atomic<qint64>, static_cast<std::size_t>(Rejection::Count)> m_rejections{};
    std::atomic<qint64> m_invalidIn{0};
    std::atomic<qint64> m_messagesOut{0};
    std::atomic<qint64> m_bytesIn{0};
    std::atomic<qint64> m_bytesOut{0};
    std::atomic<qint64> m_accepted{0};

    mutable QMutex m_mutex; // guards what follows
    QHash<QString, qint64> m_authFailures;
    qint64 m_lastMsgIn = 0, m_lastMsgOut = 0, m_lastBytesIn = 0, m_lastBytesOut = 0;
    Rates m_rates;
};

// Resident set size of this process in bytes (0 where unknown).
[[nodiscard]] qint64 residentMemoryBytes();

} // namespace medrelay::server
