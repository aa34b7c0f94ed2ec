#pragma once
// Rooms shared by several medrelay instances over Redis: the ClusterLink the
// room service uses in cluster mode (--redis).
//
// - Decisions on a room's shared state are Lua scripts (ClusterScripts.h),
//   each of which publishes its numbered change on the room's channel.
// - An instance subscribes to a room's channel while it has members or
//   waiting guests in the room, and only then; a relayed message crosses once
//   to each instance serving the room, with its targets.
// - Stored messages are appended by the shared history (RedisHistoryStore),
//   which publishes them on the same channel in the same atomic step.
// - Presence: each instance refreshes a key with a TTL (--cluster-presence-ttl)
//   and its figures; an instance whose key lapsed (killed, cut off) is
//   reaped by the others: its members become away for the resume grace,
//   then leave (reason timeout) unless their clients resumed elsewhere.
// - Two connections: commands (scripts, publishing, pings) and a subscriber.
//   While either is down the link is unavailable (degraded); when both are
//   back, every room it serves is resynchronised (roomNeedsResync) once its
//   channel is live again.
//
// Redis is trusted: whoever can write to it can forge changes and messages
// (docs/SECURITY.md). Stored message bodies are sealed (AES-256-GCM) in Redis
// and on the channel when a history key is configured; signalling and
// membership cross in clear, so the link to Redis must be private.

#include "cluster/RedisUrl.h"
#include "consultation/ClusterLink.h"
#include "store/HistoryCipher.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <memory>

namespace medrelay::cluster {

class RedisConnection;
class RedisHistoryStore;
struct RedisValue;

class ClusterBus final : public QObject, public server::ClusterLink
{
    Q_OBJECT
public:
    struct Options
    {
        RedisUrl url;
        QString instanceId;         // empty: a random one, new at each start
        int presenceTtlMs = 15000;  // a silent instance is taken for dead after this
        int resumeGraceMs = 15000;  // a dead instance's members wait this long for their clients
        int connectTimeoutMs = 3000;
        int pingTimeoutMs = 3000;
        int directoryRefreshMs = 2000;
    };
    // This instance's figures, published with its presence.
    struct Figures
    {
        int connections = 0;
        int rooms = 0;
    };
    struct InstanceInfo
    {
        QString id;
        QString name; // host:port
        bool alive = false;
        bool self = false;
        int connections = 0;
        int rooms = 0;
        qint64 startedAtMs = 0;
    };
    struct RoomSummary
    {
        QString id;
        qint64 appointmentId = 0;
        qint64 createdAtMs = 0;
        bool waitingRoom = false;
        bool locked = false;
        QList<server::SharedMember> members;
        QList<server::SharedMember> waiting;
    };
    struct Directory
    {
        QList<InstanceInfo> instances;
        QList<RoomSummary> rooms; // at most 2000
        int roomCount = 0;        // all rooms with members or guests
        qint64 refreshedAtMs = 0; // 0: not yet
    };
    struct Counters
    {
        qint64 published = 0;     // messages this instance published (relays, stored messages are the store's)
        qint64 received = 0;      // messages received on room channels
        qint64 resyncs = 0;       // rooms fetched anew after a gap or an outage
        qint64 reaped = 0;        // dead instances this one reaped
    };

    // `history` appends and publishes stored messages; `cipher` (may be null:
    // no key) opens the stored messages that arrive on channels.
    ClusterBus(Options options, RedisHistoryStore &history, std::unique_ptr<store::HistoryCipher> cipher,
               QObject *parent = nullptr);
    ~ClusterBus() override;
    Q_DISABLE_COPY_MOVE(ClusterBus)

    void start();
    void setInstanceName(const QString &name) { m_name = name; }
    void setFigures(std::function<Figures()> figures) { m_figures = std::move(figures); }
    [[nodiscard]] bool redisConnected() const;
    [[nodiscard]] Counters counters() const { return m_counters; }
    [[nodiscard]] const RedisUrl &url() const { return m_options.url; }
    // The whole cluster as last read (every directoryRefreshMs while it is
    // asked for: the admin API).
    [[nodiscard]] const Directory &directory();
    // The instance holding a connection, as the directory last saw it.
    [[nodiscard]] QString instanceOf(const QString &connectionId);
    // Asks the instance holding the connection to close it.
    void disconnectElsewhere(const QString &instance, const QString &connectionId, const QString &reason);

    // ClusterLink
    void setSink(server::ClusterSink *sink) override { m_sink = sink; }
    [[nodiscard]] const QString &instanceId() const override { return m_id; }
    [[nodiscard]] bool available() const override { return m_available; }
    void openRoom(const QString &roomId, QObject *context, std::function<void(server::SharedRoom)> done) override;
    void releaseRoom(const QString &roomId) override;
    void fetchRoom(const QString &roomId, QObject *context, std::function<void(server::SharedRoom)> done) override;
    void syncRoom(const QString &roomId, const QList<server::SharedMember> &members,
                  const QList<server::SharedMember> &waiting, const server::SharedJoin &defaults, QObject *context,
                  std::function<void(bool ok, bool ended)> done) override;
    void join(const server::SharedJoin &join, QObject *context, std::function<void(server::JoinDecision)> done) override;
    void command(const server::SharedCommand &command, QObject *context,
                 std::function<void(server::CommandResult)> done) override;
    void left(const QString &roomId, const QString &connectionId, const QString &reason, const QByteArray &announcement,
              const QString &by) override;
    void away(const QString &roomId, const QString &connectionId, qint64 awayUntilMs) override;
    void cancelWaiting(const QString &roomId, const QString &connectionId) override;
    void expire(const QString &roomId, const QString &connectionId) override;
    void relay(const QString &roomId, protocol::MessageKind kind, const QString &senderConnectionId,
               const QStringList &targets, const QByteArray &text) override;
    void appendStored(store::AppendRequest request, const QString &senderConnectionId, QObject *context,
                      std::function<void(store::AppendResult)> done) override;
    void appendStoredAt(store::AppendRequest request, qint64 seq, const QString &senderConnectionId, QObject *context,
                        std::function<void(store::AppendResult)> done) override;

Q_SIGNALS:
    void availabilityChanged(bool available);
    // Another instance's administrator asked to close one of this instance's connections.
    void disconnectRequested(const QString &connectionId, const QString &reason);

private:
    struct Waiter
    {
        QPointer<QObject> context;
        std::function<void(server::SharedRoom)> done;
    };
    struct Entry
    {
        QByteArray channel;
        QList<Waiter> waiters; // openRoom() calls waiting for the channel
    };

    void refreshPresence();
    void updateAvailability();
    void markAllForResync();
    void tryResyncs();
    void onSubscribed(const QByteArray &channel);
    void onMessage(const QByteArray &channel, const QByteArray &payload);
    void serveWaiters(const QString &roomId);
    void failWaiters(const QString &roomId, const QString &why);
    void reap();
    void expireDue();
    void refreshDirectory();
    [[nodiscard]] QByteArray channelOf(const QString &roomId) const;
    [[nodiscard]] QList<QByteArray> roomKeys(const QString &roomId) const; // s v p w x rooms away
    [[nodiscard]] QList<QByteArray> head(const QString &roomId) const;      // room, inst, channel, irp
    void eval(int script, const QList<QByteArray> &keys, const QList<QByteArray> &args, QObject *context,
              std::function<void(const RedisValue &)> done);

    Options m_options;
    QString m_id;
    QString m_name;
    qint64 m_startedAtMs = 0;
    RedisHistoryStore &m_history;
    std::unique_ptr<store::HistoryCipher> m_cipher;
    server::ClusterSink *m_sink = nullptr;
    RedisConnection *m_cmd = nullptr;
    RedisConnection *m_sub = nullptr;
    QByteArray m_instanceChannel;
    bool m_available = false;
    bool m_registered = false;
    QElapsedTimer m_registeredFor; // since presence was last (re)established
    QHash<QString, Entry> m_rooms;
    QHash<QByteArray, QString> m_channelRooms;
    QSet<QString> m_resync; // rooms to fetch anew once the link and their channel are back
    std::function<Figures()> m_figures;
    QTimer m_presence;
    QTimer m_reaper;
    QTimer m_expiry;
    QTimer m_directoryTimer;
    Directory m_directory;
    QElapsedTimer m_directoryWanted;
    bool m_directoryPending = false;
    Counters m_counters;
};

} // namespace medrelay::cluster
