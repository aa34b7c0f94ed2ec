#include "ice/IceServerIssuer.h"

#include "consultation/RoomService.h"
#include "model/Identity.h"
#include "model/Peer.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QLoggingCategory>

#include <limits>

Q_LOGGING_CATEGORY(lcIce, "medrelay.ice")

namespace medrelay::server::ice {

using namespace Qt::StringLiterals;

IceServerIssuer::IceServerIssuer(IceConfig config, const RoomService &rooms, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_rooms(rooms)
    , m_credentials(m_config.turnSecret, m_config.credentialLifetimeSeconds)
    , m_clock([] { return QDateTime::currentMSecsSinceEpoch(); })
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &IceServerIssuer::refreshDue);
}

IceServerIssuer::~IceServerIssuer() = default;

qint64 IceServerIssuer::refreshIntervalMs() const
{
    // Early enough that a call set up just before the refresh still has a
    // fifth of the lifetime to allocate its relay.
    return m_config.credentialLifetimeSeconds * 1000 * 8 / 10;
}

std::optional<OutboundMessage> IceServerIssuer::message(const Identity &identity, qint64 nowMs) const
{
    if (!m_config.enabled())
        return std::nullopt;
    QJsonArray servers;
    if (!m_config.stunUris.isEmpty())
        servers.append(QJsonObject{{u"urls"_s, QJsonArray::fromStringList(m_config.stunUris)}});
    QJsonObject message{{u"type"_s, QString(protocol::wireName(protocol::MessageKind::IceServers))}};
    if (m_config.turnEnabled()) {
        const TurnCredential c = m_credentials.issue(identity.userId, nowMs / 1000);
        servers.append(QJsonObject{{u"urls"_s, QJsonArray::fromStringList(m_config.turnUris)},
                                   {u"username"_s, c.username},
                                   {u"credential"_s, c.password}});
        message.insert(u"expiresAt"_s, static_cast<double>(c.expiresAtSeconds * 1000));
    }
    message.insert(u"iceServers"_s, servers);
    return OutboundMessage(protocol::MessageKind::IceServers, message);
}

void IceServerIssuer::roomStateSent(Peer &peer, const QString &roomId)
{
    const qint64 now = m_clock();
    const auto m = message(peer.identity(), now);
    if (!m)
        return;
    peer.send(*m);
    qCDebug(lcIce) << "ice servers sent" << peer.connectionId() << roomId;
    if (!m_config.turnEnabled())
        return; // STUN needs no refresh
    // One entry per connection, however often it joins: a repeated join
    // moves its refresh, it does not add one.
    Tracked &t = m_tracked[peer.connectionId()];
    t.peer = &peer;
    t.lifetime = peer.lifetime();
    t.dueMs = now + refreshIntervalMs();
    // Later joins are due later: a running timer already fires in time.
    if (!m_timer.isActive())
        m_timer.start(static_cast<int>(std::min<qint64>(refreshIntervalMs(), std::numeric_limits<int>::max())));
}

void IceServerIssuer::roomEvent(const events::RoomEvent &event)
{
    if (m_tracked.isEmpty())
        return;
    std::visit(events::Overloaded{
                   [this](const events::MemberLeft &e) { forgetIfRoomless(e.connectionId); },
                   [this](const events::MemberAway &e) { forgetIfRoomless(e.connectionId); },
                   [this](const events::RoomClosed &e) {
                       for (const QString &cid : e.connectionIds)
                           forgetIfRoomless(cid);
                   },
                   [](const auto &) {},
               },
               event);
}

bool IceServerIssuer::inRoom(const QString &connectionId) const
{
    for (const QString &roomId : m_rooms.roomsOf(connectionId)) {
        const Room *room = m_rooms.find(roomId);
        const Member *m = room ? room->member(connectionId) : nullptr;
        if (m && m->state != MemberState::Away && m->peer)
            return true;
    }
    return false;
}

void IceServerIssuer::forgetIfRoomless(const QString &connectionId)
{
    if (m_tracked.contains(connectionId) && !inRoom(connectionId)) {
        m_tracked.remove(connectionId);
        if (m_tracked.isEmpty())
            m_timer.stop();
    }
}

void IceServerIssuer::refreshDue()
{
    // One pass refreshes everything due within the slack too, so a timer
    // fires at most about twenty times per refresh interval however many
    // connections joined at different times.
    const qint64 now = m_clock();
    const qint64 slack = std::min<qint64>(refreshIntervalMs() / 20, 60 * 1000);
    qint64 next = std::numeric_limits<qint64>::max();
    for (auto it = m_tracked.begin(); it != m_tracked.end();) {
        if (!it->lifetime || !inRoom(it.key())) {
            it = m_tracked.erase(it);
            continue;
        }
        if (it->dueMs <= now + slack) {
            if (const auto m = message(it->peer->identity(), now)) {
                it->peer->send(*m);
                qCDebug(lcIce) << "ice servers refreshed" << it.key();
            }
            it->dueMs = now + refreshIntervalMs();
        }
        next = std::min(next, it->dueMs);
        ++it;
    }
    if (next != std::numeric_limits<qint64>::max())
        m_timer.start(static_cast<int>(std::clamp<qint64>(next - now, 0, std::numeric_limits<int>::max())));
}

} // namespace medrelay::server::ice
