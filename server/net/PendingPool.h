#pragma once
// The sockets that have been accepted but have not finished their request
// head (and, with TLS, their handshake), shared fairly between client
// addresses. The pool is small and global, since each entry holds a socket
// and a timer; without fairness one address holding idle connections would
// lock everyone out, health checks included. So:
//  - one address holds at most `perAddress` entries: beyond that its own
//    oldest entry is evicted (a slow or idle socket is the likeliest to be
//    the oldest);
//  - when the pool is full, a newcomer evicts the oldest entry of the
//    address holding the most, as long as that address holds more than the
//    newcomer's; otherwise the newcomer is refused. An address with nothing
//    pending therefore always gets in.
// IPv6 addresses are counted by their /64, which one host usually owns.
// Trusted reverse proxies are counted in the pool but neither capped nor
// evicted: they carry many clients, and buffer slow requests themselves.

#include <QHostAddress>

#include <unordered_map>

namespace medrelay::server {

class TrustedProxies;

class PendingPool final
{
    struct Bucket;

public:
    // One pending socket. Its owner derives from this; destroying an entry
    // releases it from its pool.
    class Entry
    {
    public:
        [[nodiscard]] bool isPending() const { return m_bucket != nullptr; }
        // Leaves the pool, if in one (the request head is complete).
        void leavePool();

    protected:
        Entry() = default;
        virtual ~Entry();
        Q_DISABLE_COPY_MOVE(Entry)
        // Called once when the pool evicts this entry to make room, after it
        // was released: close the socket (deferred is fine).
        virtual void evicted() = 0;

    private:
        friend class PendingPool;
        Bucket *m_bucket = nullptr;
        Entry *m_prev = nullptr;
        Entry *m_next = nullptr;
    };

    PendingPool(int capacity, int perAddress, const TrustedProxies &exempt);
    ~PendingPool();
    Q_DISABLE_COPY_MOVE(PendingPool)

    // Adds `entry` for a socket from `peer`, evicting others as described
    // above. False when the pool is full of addresses holding no more than
    // this one: the caller refuses the socket.
    bool admit(Entry &entry, const QHostAddress &peer);
    // The entry's request head is complete (or it is closing): it no longer
    // counts. Nothing happens when it is not pending.
    void release(Entry &entry);

    [[nodiscard]] int size() const { return m_size; }
    [[nodiscard]] int capacity() const { return m_capacity; }
    [[nodiscard]] int perAddress() const { return m_perAddress; }
    [[nodiscard]] int pendingFrom(const QHostAddress &peer) const;
    // Entries evicted so far.
    [[nodiscard]] qint64 evictions() const { return m_evictions; }

private:
    struct Key
    {
        quint64 high = 0;
        quint64 low = 0;
        bool operator==(const Key &) const = default;
    };
    struct KeyHash
    {
        size_t operator()(const Key &k) const noexcept;
    };
    // The pending entries of one address, oldest first.
    struct Bucket
    {
        PendingPool *pool = nullptr;
        Key key;
        Entry *oldest = nullptr;
        Entry *newest = nullptr;
        int count = 0;
        bool exempt = false;
    };

    [[nodiscard]] static Key keyOf(const QHostAddress &peer);
    void unlink(Entry &entry);
    void evictOldest(Bucket &bucket);
    [[nodiscard]] Bucket *heaviest();

    const TrustedProxies &m_exempt;
    std::unordered_map<Key, Bucket, KeyHash> m_buckets;
    qint64 m_evictions = 0;
    int m_capacity = 0;
    int m_perAddress = 0;
    int m_size = 0;
};

} // namespace medrelay::server
