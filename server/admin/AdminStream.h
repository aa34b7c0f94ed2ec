#pragma once
// The admin event stream (GET /admin/ws, a WebSocket with the admin token):
// each console gets a snapshot of the server and its rooms, then every change
// as it happens, numbered. A console that reconnects with the last seq it saw
// and the stream's epoch gets what it missed from a bounded ring, or a fresh
// snapshot (marked reset) when the ring no longer reaches back or the server
// was restarted: never a silent gap. Each change is serialised once and the
// same bytes go to every console. It observes the room service's typed
// events (and the event ring's entries that are not about rooms: admin
// actions, failed authentication) and changes nothing. Message traffic is
// not a change: once a second it sends the rooms whose last activity moved,
// so a console's idle times stay true without a change per message. In
// cluster mode it also follows the rooms served only by other instances, as
// the cluster's directory lists them.

#include "consultation/RoomEvents.h"
#include "model/OutboundMessage.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <QHash>

#include <deque>

namespace medrelay::adminapi {
struct Event;
}

namespace medrelay::server {

class AdminService;
class Connection;
class ConnectionManager;
class RoomService;

class AdminStream final : public QObject, public events::RoomEventObserver
{
    Q_OBJECT
public:
    AdminStream(RoomService &rooms, AdminService &admin, ConnectionManager &connections, int ringCapacity = 10000,
                QObject *parent = nullptr);
    Q_DISABLE_COPY_MOVE(AdminStream)

    // A console's stream opened: its request URL may carry ?since=N&epoch=E.
    void subscribe(Connection *connection);
    void roomEvent(const events::RoomEvent &event) override;
    // Counters and the server's state, about once a second while anyone
    // listens (and at once when the state changes).
    void tick();

    [[nodiscard]] const QString &epoch() const { return m_epoch; }
    [[nodiscard]] qint64 seq() const { return m_seq; }
    [[nodiscard]] int subscriberCount() const { return static_cast<int>(m_subscribers.size()); }

private:
    void publish(const QString &change, QJsonObject fields);
    // `json` is a change's fields, already serialised, without the closing brace.
    void publishText(QByteArray json);
    void send(const OutboundMessage &message);
    void publishActivity();
    // Cluster mode: rooms served only by other instances, from the cluster's
    // directory each time it is read anew: whole rooms as they appear or
    // change (room_elsewhere), room_closed as they go.
    void publishElsewhere();
    void onLogged(const adminapi::Event &event);
    [[nodiscard]] QJsonObject roomSummary(const QString &roomId) const;
    [[nodiscard]] QJsonObject counters() const;
    [[nodiscard]] OutboundMessage snapshot(bool reset) const;
    // The snapshot, built at most once per change: consoles that connect
    // between two changes (ten opened together, a reconnect storm) share
    // the same bytes instead of each costing the relay thread a pass over
    // every room.
    [[nodiscard]] const OutboundMessage &sharedSnapshot(bool reset);

    RoomService &m_rooms;
    AdminService &m_admin;
    ConnectionManager &m_connections;
    int m_ringCapacity = 10000;
    QString m_epoch;
    qint64 m_seq = 0;
    QString m_lastStatus;
    std::deque<std::pair<qint64, OutboundMessage>> m_ring; // oldest first
    QHash<QString, QJsonObject> m_elsewhere; // as the stream last described them, by room id
    qint64 m_elsewhereReadAtMs = 0;
    QHash<QString, qint64> m_activitySent; // room id -> last activity (ms) consoles know of
    QList<QPointer<Connection>> m_subscribers;
    struct CachedSnapshot
    {
        qint64 seq = -1; // the change it describes the state after; -1: none
        OutboundMessage message{protocol::MessageKind{}, QByteArray()};
    };
    CachedSnapshot m_snapshots[2]; // [reset]
    QTimer m_ticker;
};

} // namespace medrelay::server
