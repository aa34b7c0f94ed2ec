#pragma once
// The address a request really comes from. Behind a reverse proxy (nginx in
// front of /ws, as the original deployment guide shows) every connection
// comes from the proxy; when the peer is one of the configured trusted
// proxies, the client is the last address in X-Forwarded-For that is not a
// trusted proxy itself. Headers from anyone else are ignored, so a client
// cannot choose its own address for the per-address cap or the audit log.

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QStringList>

#include <optional>

namespace medrelay::server {

class TrustedProxies final
{
public:
    TrustedProxies() = default;
    // Entries are addresses or CIDR subnets ("10.0.0.0/8", "::1"); returns
    // the first entry that is neither, or std::nullopt when all are valid.
    [[nodiscard]] static std::optional<QString> invalidEntry(const QStringList &entries);
    explicit TrustedProxies(const QStringList &entries);

    [[nodiscard]] bool isEmpty() const { return m_subnets.isEmpty(); }
    [[nodiscard]] bool contains(const QHostAddress &address) const;
    // The client's address for a connection from `peer` carrying this
    // X-Forwarded-For header (possibly empty).
    [[nodiscard]] QHostAddress clientAddress(const QHostAddress &peer, const QByteArray &forwardedFor) const;

private:
    QList<QPair<QHostAddress, int>> m_subnets;
};

// IPv4-mapped IPv6 addresses as plain IPv4, as text.
[[nodiscard]] QString displayAddress(const QHostAddress &address);

} // namespace medrelay::server
