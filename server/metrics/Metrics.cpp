#include "metrics/Metrics.h"

#include <QFile>

#ifdef Q_OS_LINUX
#include <unistd.h>
#endif

namespace medrelay::server {

using namespace Qt::StringLiterals;

QLatin1StringView rejectionName(Rejection r)
{
    switch (r) {
    case Rejection::TooManyConnections: return "too_many_connections"_L1;
    case Rejection::TooManyFromAddress: return "too_many_from_address"_L1;
    case Rejection::MessageTooLarge: return "message_too_large"_L1;
    case Rejection::RateLimited: return "rate_limited"_L1;
    case Rejection::SlowConsumer: return "slow_consumer"_L1;
    case Rejection::PingTimeout: return "ping_timeout"_L1;
    case Rejection::RequestTimeout: return "request_timeout"_L1;
    case Rejection::BadRequest: return "bad_request"_L1;
    case Rejection::HeadTooLarge: return "head_too_large"_L1;
    case Rejection::UpgradeNotFound: return "upgrade_not_found"_L1;
    case Rejection::OriginForbidden: return "origin_forbidden"_L1;
    case Rejection::Draining: return "draining"_L1;
    case Rejection::AuthFailed: return "auth_failed"_L1;
    case Rejection::TokenExpired: return "token_expired"_L1;
    case Rejection::Kicked: return "kicked"_L1;
    case Rejection::PendingEvicted: return "pending_evicted"_L1;
    case Rejection::Count: break;
    }
    return "unknown"_L1;
}

void Metrics::messageIn(protocol::MessageKind kind, qint64 bytes)
{
    m_in[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    m_bytesIn.fetch_add(bytes, std::memory_order_relaxed);
}

void Metrics::invalidIn(qint64 bytes)
{
    m_invalidIn.fetch_add(1, std::memory_order_relaxed);
    m_bytesIn.fetch_add(bytes, std::memory_order_relaxed);
}

void Metrics::messageOut(qint64 bytes, qint64 count)
{
    m_messagesOut.fetch_add(count, std::memory_order_relaxed);
    m_bytesOut.fetch_add(bytes * count, std::memory_order_relaxed);
}

void Metrics::error(protocol::ErrorCode code)
{
    m_errors[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::rejection(Rejection reason)
{
    m_rejections[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::connectionAccepted()
{
    m_accepted.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::authFailure(const QString &reason)
{
    QMutexLocker lock(&m_mutex);
    ++m_authFailures[reason];
}

qint64 Metrics::messagesIn(protocol::MessageKind kind) const
{
    return m_in[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
}

qint64 Metrics::errors(protocol::ErrorCode code) const
{
    return m_errors[static_cast<std::size_t>(code)].load(std::memory_order_relaxed);
}

qint64 Metrics::rejections(Rejection reason) const
{
    return m_rejections[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
}

qint64 Metrics::totalMessagesIn() const
{
    qint64 sum = m_invalidIn.load(std::memory_order_relaxed);
    for (const auto &c : m_in)
        sum += c.load(std::memory_order_relaxed);
    return sum;
}

QHash<QString, qint64> Metrics::authFailures() const
{
    QMutexLocker lock(&m_mutex);
    return m_authFailures;
}

void Metrics::tick(qint64 elapsedMs)
{
    if (elapsedMs <= 0)
        return;
    const qint64 in = totalMessagesIn(), out = totalMessagesOut();
    const qint64 bin = totalBytesIn(), bout = totalBytesOut();
    const double s = static_cast<double>(elapsedMs) / 1000.0;
    QMutexLocker lock(&m_mutex);
    m_rates = Rates{static_cast<double>(in - m_lastMsgIn) / s, static_cast<double>(out - m_lastMsgOut) / s,
                    static_cast<double>(bin - m_lastBytesIn) / s, static_cast<double>(bout - m_lastBytesOut) / s};
    m_lastMsgIn = in;
    m_lastMsgOut = out;
    m_lastBytesIn = bin;
    m_lastBytesOut = bout;
}

Metrics::Rates Metrics::rates() const
{
    QMutexLocker lock(&m_mutex);
    return m_rates;
}

qint64 residentMemoryBytes()
{
#ifdef Q_OS_LINUX
    QFile f(u"/proc/self/statm"_s);
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> parts = f.readAll().split(' ');
    if (parts.size() < 2)
        return 0;
    // statm counts pages, and pages are 16 or 64 KiB on some arm64 and
    // ppc64 kernels, not always 4 KiB.
    const long pageSize = ::sysconf(_SC_PAGESIZE);
    return parts.at(1).toLongLong() * (pageSize > 0 ? pageSize : 4096);
#else
    return 0;
#endif
}

} // namespace medrelay::server
