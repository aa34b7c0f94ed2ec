#include "net/ClientAddress.h"

namespace medrelay::server {

namespace {

std::optional<QPair<QHostAddress, int>> parseEntry(const QString &entry)
{
    const QString e = entry.trimmed();
    if (e.contains(u'/')) {
        const auto subnet = QHostAddress::parseSubnet(e);
        if (subnet.first.isNull())
            return std::nullopt;
        return subnet;
    }
    const QHostAddress a(e);
    if (a.isNull())
        return std::nullopt;
    return qMakePair(a, a.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32);
}

QHostAddress unmapped(const QHostAddress &a)
{
    bool mapped = false;
    const quint32 v4 = a.toIPv4Address(&mapped);
    return mapped ? QHostAddress(v4) : a;
}

} // namespace

std::optional<QString> TrustedProxies::invalidEntry(const QStringList &entries)
{
    for (const QString &e : entries) {
        if (!parseEntry(e))
            return e;
    }
    return std::nullopt;
}

TrustedProxies::TrustedProxies(const QStringList &entries)
{
    for (const QString &e : entries) {
        if (auto subnet = parseEntry(e))
            m_subnets.append(*subnet);
    }
}

bool TrustedProxies::contains(const QHostAddress &address) const
{
    const QHostAddress a = unmapped(address);
    for (const auto &subnet : m_subnets) {
        if (a.isInSubnet(subnet))
            return true;
    }
    return false;
}

QHostAddress TrustedProxies::clientAddress(const QHostAddress &peer, const QByteArray &forwardedFor) const
{
    if (!contains(peer) || forwardedFor.isEmpty())
        return unmapped(peer);
    // Right to left: each trusted proxy appended the address it saw.
    const QList<QByteArray> hops = forwardedFor.split(',');
    for (qsizetype i = hops.size() - 1; i >= 0; --i) {
        const QHostAddress hop(QString::fromLatin1(hops.at(i).trimmed()));
        if (hop.isNull())
            break; // garbage: stop at the last address we could trust
        if (!contains(hop))
            return unmapped(hop);
    }
    return unmapped(peer);
}

QString displayAddress(const QHostAddress &address)
{
    return unmapped(address).toString();
}

} // namespace medrelay::server
