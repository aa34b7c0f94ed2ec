#pragma once
// Gives each member the ICE servers its browser should use, in an
// `ice_servers` message right after its room_state: the configured STUN URIs,
// and the TURN URIs with short-lived credentials of its own (TurnCredentials).
// While the connection is in a room, fresh credentials follow before the old
// ones expire (at 80 % of their lifetime). Credentials are computed, never
// stored: per connection only its next refresh time is kept, and that goes
// when the connection leaves its last room or closes.
//
// It reads the RoomService (is this connection still in a room?) and never
// changes it; it never logs the secret or a password.

#include "consultation/JoinCompanion.h"
#include "consultation/RoomEvents.h"
#include "ice/TurnCredentials.h"
#include "model/OutboundMessage.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QTimer>

#include <functional>
#include <optional>

namespace medrelay::server {
class Peer;
class RoomService;
struct Identity;
} // namespace medrelay::server

namespace medrelay::server::ice {

struct IceConfig
{
    QStringList stunUris;
    QStringList turnUris;
    QByteArray turnSecret;
    qint64 credentialLifetimeSeconds = 3600;

    [[nodiscard]] bool turnEnabled() const { return !turnUris.isEmpty() && !turnSecret.isEmpty(); }
    // Whether there is anything to tell clients at all.
    [[nodiscard]] bool enabled() const { return turnEnabled() || !stunUris.isEmpty(); }
};

class IceServerIssuer final : public QObject, public JoinCompanion, public events::RoomEventObserver
{
    Q_OBJECT
public:
    using Clock = std::function<qint64()>; // ms since the epoch

    IceServerIssuer(IceConfig config, const RoomService &rooms, QObject *parent = nullptr);
    ~IceServerIssuer() override;
    Q_DISABLE_COPY_MOVE(IceServerIssuer)

    // For tests: a clock other than the system's.
    void setClock(Clock clock) { m_clock = std::move(clock); }

    // JoinCompanion
    void roomStateSent(Peer &peer, const QString &roomId) override;
    // RoomEventObserver: forget connections that left their last room.
    void roomEvent(const events::RoomEvent &event) override;

    // The ice_servers message for `identity` at `nowMs`; nullopt when there
    // is nothing to say (no STUN, no TURN).
    [[nodiscard]] std::optional<OutboundMessage> message(const Identity &identity, qint64 nowMs) const;
    // Connections waiting for a refresh.
    [[nodiscard]] qsizetype tracked() const { return m_tracked.size(); }
    [[nodiscard]] qint64 refreshIntervalMs() const;

private:
    struct Tracked
    {
        Peer *peer = nullptr;
        QPointer<QObject> lifetime;
        qint64 dueMs = 0;
    };
    void refreshDue();
    void forgetIfRoomless(const QString &connectionId);
    [[nodiscard]] bool inRoom(const QString &connectionId) const;

    IceConfig m_config;
    const RoomService &m_rooms;
    TurnCredentials m_credentials;
    QHash<QString, Tracked> m_tracked; // connection id -> next refresh
    QTimer m_timer;
    Clock m_clock;
};

} // namespace medrelay::server::ice
