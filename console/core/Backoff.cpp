#include "core/Backoff.h"

#include <QRandomGenerator>

#include <algorithm>

namespace medrelay::console {

Backoff::Backoff(ms minimum, ms maximum, double jitter)
    : m_min(minimum), m_max(std::max(minimum, maximum)), m_jitter(jitter)
{
}

void Backoff::setLimits(ms minimum, ms maximum)
{
    m_min = minimum;
    m_max = std::max(minimum, maximum);
}

Backoff::ms Backoff::next()
{
    // 2^failures, capped before it can overflow.
    const int shift = std::min(m_failures, 20);
    const auto base = std::min<long long>(m_max.count(), m_min.count() * (1LL << shift));
    ++m_failures;
    const double spread = QRandomGenerator::global()->generateDouble() * m_jitter;
    const auto withJitter = static_cast<long long>(static_cast<double>(base) * (1.0 + spread));
    return ms{std::min<long long>(withJitter, m_max.count())};
}

} // namespace medrelay::console
