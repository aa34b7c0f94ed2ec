#include "net/PendingPool.h"

#include "net/ClientAddress.h"

#include <QHashFunctions>

namespace medrelay::server {

PendingPool::Entry::~Entry()
{
    if (m_bucket != nullptr)
        m_bucket->pool->release(*this);
}

void PendingPool::Entry::leavePool()
{
    if (m_bucket != nullptr)
        m_bucket->pool->release(*this);
}

PendingPool::PendingPool(int capacity, int perAddress, const TrustedProxies &exempt)
    : m_exempt(exempt)
    , m_capacity(capacity)
    , m_perAddress(perAddress)
{
}

PendingPool::~PendingPool()
{
    // Entries may outlive the pool (deferred deletion): cut them loose.
    for (auto &[key, bucket] : m_buckets) {
        for (Entry *e = bucket.oldest; e != nullptr;) {
            Entry *next = e->m_next;
            e->m_bucket = nullptr;
            e->m_prev = e->m_next = nullptr;
            e = next;
        }
    }
}

size_t PendingPool::KeyHash::operator()(const Key &k) const noexcept
{
    return qHashMulti(0, k.high, k.low);
}

PendingPool::Key PendingPool::keyOf(const QHostAddress &peer)
{
    bool isV4 = false;
    const quint32 v4 = peer.toIPv4Address(&isV4); // IPv4-mapped IPv6 too
    if (isV4)
        return {4, v4};
    const Q_IPV6ADDR v6 = peer.toIPv6Address();
    quint64 prefix = 0;
    for (int i = 0; i < 8; ++i)
        prefix = (prefix << 8) | v6[i];
    return {6, prefix};
}

int PendingPool::pendingFrom(const QHostAddress &peer) const
{
    const auto it = m_buckets.find(keyOf(peer));
    return it == m_buckets.end() ? 0 : it->second.count;
}

bool PendingPool::admit(Entry &entry, const QHostAddress &peer)
{
    if (entry.m_bucket != nullptr)
        return true;
    const Key key = keyOf(peer);
    auto it = m_buckets.find(key);
    const int mine = it == m_buckets.end() ? 0 : it->second.count;
    const bool exempt = it != m_buckets.end() ? it->second.exempt : m_exempt.contains(peer);
    if (!exempt && m_perAddress > 0 && mine >= m_perAddress) {
        // Over its share: the address makes room from its own.
        evictOldest(it->second);
    } else if (m_size >= m_capacity) {
        Bucket *victim = heaviest();
        if (victim == nullptr || victim->count <= mine)
            return false;
        evictOldest(*victim);
    }
    it = m_buckets.find(key); // an eviction may have emptied and erased it
    if (it == m_buckets.end()) {
        it = m_buckets.emplace(key, Bucket{}).first;
        it->second.pool = this;
        it->second.key = key;
        it->second.exempt = exempt;
    }
    Bucket &bucket = it->second;
    entry.m_bucket = &bucket;
    entry.m_prev = bucket.newest;
    entry.m_next = nullptr;
    if (bucket.newest != nullptr)
        bucket.newest->m_next = &entry;
    else
        bucket.oldest = &entry;
    bucket.newest = &entry;
    ++bucket.count;
    ++m_size;
    return true;
}

void PendingPool::release(Entry &entry)
{
    if (entry.m_bucket == nullptr || entry.m_bucket->pool != this)
        return;
    const Key key = entry.m_bucket->key;
    unlink(entry);
    const auto it = m_buckets.find(key);
    if (it != m_buckets.end() && it->second.count == 0)
        m_buckets.erase(it);
}

void PendingPool::unlink(Entry &entry)
{
    Bucket &bucket = *entry.m_bucket;
    if (entry.m_prev != nullptr)
        entry.m_prev->m_next = entry.m_next;
    else
        bucket.oldest = entry.m_next;
    if (entry.m_next != nullptr)
        entry.m_next->m_prev = entry.m_prev;
    else
        bucket.newest = entry.m_prev;
    entry.m_bucket = nullptr;
    entry.m_prev = entry.m_next = nullptr;
    --bucket.count;
    --m_size;
}

void PendingPool::evictOldest(Bucket &bucket)
{
    Entry *victim = bucket.oldest;
    if (victim == nullptr)
        return;
    release(*victim);
    ++m_evictions;
    victim->evicted();
}

PendingPool::Bucket *PendingPool::heaviest()
{
    // Linear, but only when the pool is full, and there are at most
    // `capacity` addresses.
    Bucket *best = nullptr;
    for (auto &[key, bucket] : m_buckets) {
        if (!bucket.exempt && (best == nullptr || bucket.count > best->count))
            best = &bucket;
    }
    return best;
}

} // namespace medrelay::server
