#pragma once
// Token bucket for one connection's incoming messages: `rate` per second
// sustained, `burst` at once. Counts how many messages in a row it refused so
// the connection can tell a brief burst from a flood.

#include <QtGlobal>

namespace medrelay::server {

class RateLimiter final
{
public:
    RateLimiter(double ratePerSecond, int burst)
        : m_rate(ratePerSecond)
        , m_burst(burst)
        , m_tokens(burst)
    {}

    [[nodiscard]] bool enabled() const { return m_rate > 0; }

    // True when a message arriving at `nowMs` (monotonic) may pass.
    bool allow(qint64 nowMs)
    {
        if (m_rate <= 0)
            return true;
        if (m_lastMs >= 0) {
            m_tokens += static_cast<double>(nowMs - m_lastMs) * m_rate / 1000.0;
            if (m_tokens > m_burst)
                m_tokens = m_burst;
        }
        m_lastMs = nowMs;
        if (m_tokens >= 1.0) {
            m_tokens -= 1.0;
            m_refusedInARow = 0;
            return true;
        }
        ++m_refusedInARow;
        return false;
    }

    [[nodiscard]] int refusedInARow() const { return m_refusedInARow; }

private:
    double m_rate = 0;
    double m_burst = 0;
    double m_tokens = 0;
    qint64 m_lastMs = -1; // no message yet
    int m_refusedInARow = 0;
};

} // namespace medrelay::server
