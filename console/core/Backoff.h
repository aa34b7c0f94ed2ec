#pragma once
// Delays between reconnection attempts: doubling from a minimum up to a cap,
// with a little jitter so several consoles do not knock on a restarting server
// in lock step. Reset after every successful contact.

#include <chrono>

namespace medrelay::console {

class Backoff final
{
public:
    using ms = std::chrono::milliseconds;

    explicit Backoff(ms minimum = ms{500}, ms maximum = ms{10'000}, double jitter = 0.2);

    void setLimits(ms minimum, ms maximum);
    void setJitter(double fraction) { m_jitter = fraction; }

    // The delay to wait before the next attempt; each call lengthens the next one.
    [[nodiscard]] ms next();
    void reset() { m_failures = 0; }

    [[nodiscard]] int failures() const { return m_failures; }
    [[nodiscard]] ms minimum() const { return m_min; }
    [[nodiscard]] ms maximum() const { return m_max; }

private:
    ms m_min{500};
    ms m_max{10'000};
    double m_jitter = 0.2;
    int m_failures = 0;
};

} // namespace medrelay::console
