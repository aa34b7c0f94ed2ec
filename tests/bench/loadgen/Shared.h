#pragma once
// State the coordinator and its worker processes share through one anonymous
// MAP_SHARED mapping. Workers are processes, not threads, because each
// process has its own file-descriptor limit (ulimit -n is fixed at 20,000 on
// the benchmark machines) and 19,000 connections need more than one.
//
// Every counter has exactly one writer (its worker); the coordinator only
// reads, and computes per-step figures as differences between snapshots, so
// nothing is ever reset under a writer's feet.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace medrelay::bench {

using Counter = std::atomic<std::uint64_t>;

// Single-writer increment: a plain load and store, no locked instruction.
inline void bump(Counter &c, std::uint64_t n = 1)
{
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void raiseTo(Counter &c, std::uint64_t v)
{
    if (v > c.load(std::memory_order_relaxed))
        c.store(v, std::memory_order_relaxed);
}

// Log-linear latency histogram in nanoseconds: exact below 128 ns, then 64
// buckets per power of two (under 1.6 % error), up to about 73 minutes.
struct Histogram
{
    static constexpr int kLinear = 128;
    static constexpr int kSubBuckets = 64;
    static constexpr int kMaxExponent = 42;
    static constexpr int kBuckets = kLinear + (kMaxExponent - 6) * kSubBuckets;

    Counter buckets[kBuckets];
    Counter count;
    Counter sum;
    Counter max;

    static int indexOf(std::uint64_t v)
    {
        if (v < static_cast<std::uint64_t>(kLinear))
            return static_cast<int>(v);
        int msb = 63 - __builtin_clzll(v);
        if (msb > kMaxExponent) {
            msb = kMaxExponent;
            v = (2ULL << kMaxExponent) - 1;
        }
        const std::uint64_t top = v >> (msb - 6); // 64..127
        return kLinear + (msb - 7) * kSubBuckets + static_cast<int>(top - 64);
    }
    // The middle of a bucket, used when reporting percentiles.
    static std::uint64_t valueOf(int index)
    {
        if (index < kLinear)
            return static_cast<std::uint64_t>(index);
        const int msb = 7 + (index - kLinear) / kSubBuckets;
        const std::uint64_t top = 64 + static_cast<std::uint64_t>((index - kLinear) % kSubBuckets);
        const std::uint64_t width = 1ULL << (msb - 6);
        return (top << (msb - 6)) + width / 2;
    }
    void record(std::uint64_t v)
    {
        bump(buckets[indexOf(v)]);
        bump(count);
        bump(sum, v);
        raiseTo(max, v);
    }
};

// A plain (non-atomic) copy of a histogram for arithmetic in the coordinator.
struct HistogramSnapshot
{
    std::uint64_t buckets[Histogram::kBuckets] = {};
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    std::uint64_t max = 0;

    void add(const Histogram &h)
    {
        for (int i = 0; i < Histogram::kBuckets; ++i)
            buckets[i] += h.buckets[i].load(std::memory_order_relaxed);
        count += h.count.load(std::memory_order_relaxed);
        sum += h.sum.load(std::memory_order_relaxed);
        const std::uint64_t m = h.max.load(std::memory_order_relaxed);
        if (m > max)
            max = m;
    }
    // this - earlier; max cannot be differenced, so the caller tracks a
    // per-step maximum separately (see WorkerStats::stepMax).
    void subtract(const HistogramSnapshot &earlier)
    {
        for (int i = 0; i < Histogram::kBuckets; ++i)
            buckets[i] -= earlier.buckets[i];
        count -= earlier.count;
        sum -= earlier.sum;
    }
    [[nodiscard]] std::uint64_t percentile(double p) const
    {
        if (count == 0)
            return 0;
        const auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(count - 1)) + 1;
        std::uint64_t seen = 0;
        for (int i = 0; i < Histogram::kBuckets; ++i) {
            seen += buckets[i];
            if (seen >= rank) {
                const std::uint64_t v = Histogram::valueOf(i);
                return v > max && max != 0 ? max : v;
            }
        }
        return max;
    }
};

enum class Phase : std::uint32_t {
    Idle = 0,    // connected clients stay; nothing is sent
    Connect = 1, // open and join every client
    Send = 2,    // paced sending at Control::rate
    Signal = 3,  // clinic: offer/answer/ICE exchange, then paced chat and whiteboard
    Close = 4,   // close everything and exit
};

enum class Latency : int { Traffic = 0, Signalling = 1, Count = 2 };

struct Control
{
    std::atomic<std::uint32_t> seq{0};   // bumped on every phase change
    std::atomic<std::uint32_t> phase{0}; // Phase
    std::atomic<std::uint64_t> phaseStartNs{0};
    std::atomic<std::uint64_t> rateMilli{0}; // messages per second per worker, times 1000
    std::atomic<std::uint64_t> stepMaxEpoch{0}; // a new value tells workers to restart stepMax
    std::atomic<std::uint64_t> connectTarget{0}; // clients (all workers) that should be connected
};

struct WorkerStats
{
    std::atomic<std::uint32_t> ackSeq{0};
    std::atomic<std::int32_t> pid{0};
    std::atomic<std::uint32_t> exited{0};
    Counter clients;        // clients this worker owns
    Counter connectStarted; // connect() calls made
    Counter upgraded;       // 101 Switching Protocols received
    Counter joined;         // room_state received
    Counter connectFailed;  // refused, reset, timed out or rejected before joining
    Counter disconnected;   // lost after joining
    Counter errorsReceived; // {"type":"error"} frames
    Counter sent;           // timestamped messages sent
    Counter expected;       // deliveries those sends should cause
    Counter delivered;      // timestamped messages received
    Counter otherReceived;  // joins, leaves, anything else
    Counter sendSkipped;    // sends skipped because a socket's buffer was full
    Counter bytesSent;
    Counter bytesReceived;
    Counter firstConnectNs;
    Counter lastUpgradeNs;
    Counter lastJoinNs;
    Counter stepMax[static_cast<int>(Latency::Count)];
    Counter stepMaxEpochSeen;
    Histogram latency[static_cast<int>(Latency::Count)];
    Histogram handshake; // connect() to 101
    Histogram join;      // connect() to room_state
    char firstError[256];      // first connection failure
    char firstErrorReply[256]; // first {"type":"error"} the server sent
};

} // namespace medrelay::bench
