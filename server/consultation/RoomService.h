#pragma once
// The one writer of room state. Every change to a room (joins and leaves,
// the waiting room and admission, settings, removal, relaying and numbering
// messages, the resume grace, ending a consultation, closing rooms) happens
// here, and each is published as a typed event for the observers (audit,
// admin API, metrics). Commands that need the history store finish later,
// without blocking other rooms: they hold a Request, whose reply is dropped
// if the sender is gone by then.
//
// Cluster mode (a ClusterLink is set): a room's members may sit on several
// instances. Decisions that must be atomic across them (joins, admission,
// settings, removal, ending, closing) are made by the link, and every
// instance applies the resulting numbered changes in order; stored messages
// reach every instance (this one included) on the room's channel in seq
// order. Members on other instances are Members without a Peer. The cluster
// half of this class is in RoomServiceCluster.cpp.

#include "consultation/AccessPolicy.h"
#include "consultation/ClusterLink.h"
#include "consultation/JoinCompanion.h"
#include "consultation/Room.h"
#include "consultation/RoomEvents.h"
#include "model/Request.h"
#include "protocol/Messages.h"

#include <QHash>
#include <QSet>
#include <QObject>
#include <QTimer>

#include <deque>
#include <functional>
#include <map>
#include <memory>

namespace medrelay::store {
class HistoryStore;
struct ReadResult;
struct Snapshot;
} // namespace medrelay::store

namespace medrelay::server {

class Fanout;

struct RoomConfig
{
    int maxParticipantsPerRoom = 64;
    int maxRoomsPerConnection = 16;
    bool waitingRoomByDefault = false;
    int resumeGraceMs = 15000;        // 0: leaves are announced at once
    int recentChat = 50;              // chat messages in a late joiner's room_state
    int maxWhiteboard = 2000;         // whiteboard updates in a late joiner's room_state
    int maxReplay = 10000;            // stored messages replayed to a resuming joiner
    qint64 endedRefusalMs = qint64(24) * 3600 * 1000; // joins refused after the end
    qint64 historyRetentionMs = 0;    // 0: history deleted when the consultation ends
    qint64 maxConsultationMs = 0;     // 0: no maximum duration
    qint64 warningBeforeEndMs = 5 * 60 * 1000;
    qint64 heldBytesLimit = 1024 * 1024; // messages held for a joiner before its room_state
    int outageMessages = 1000;        // cluster mode: stored messages held per room while the link is down
    int presenceTtlMs = 15000;        // cluster mode: how long an instance may be silent before it is taken for dead
};

class RoomService final : public QObject, private ClusterSink
{
    Q_OBJECT
public:
    RoomService(RoomConfig config, AccessPolicy access, store::HistoryStore &history, Fanout &fanout,
                QObject *parent = nullptr);
    ~RoomService() override;
    Q_DISABLE_COPY_MOVE(RoomService)

    // Observers hear of what happens on this instance (the audit trail, the
    // event log); those that ask for the whole cluster (the admin stream)
    // also hear of changes made on other instances to rooms served here.
    enum class ObserverScope : quint8 { ThisInstance, WholeCluster };
    void addObserver(events::RoomEventObserver *observer, ObserverScope scope = ObserverScope::ThisInstance)
    {
        m_observers.append({observer, scope == ObserverScope::WholeCluster});
    }
    // Cluster mode: set once, before any join.
    void setClusterLink(ClusterLink *link);
    [[nodiscard]] ClusterLink *clusterLink() const { return m_cluster; }
    // Told after each room_state a member is sent (one at most; may be null).
    void setJoinCompanion(JoinCompanion *companion) { m_companion = companion; }
    [[nodiscard]] const AccessPolicy &access() const { return m_access; }

    // Client commands.
    void join(const Request &request, const protocol::Envelope &envelope, const protocol::JoinRoom &message);
    void leave(const Request &request, const protocol::Envelope &envelope, const protocol::LeaveRoom &message);
    void relay(const Request &request, const protocol::Envelope &envelope, const protocol::RoomMessage &message);
    void changeSettings(const Request &request, const protocol::RoomSettings &message);
    void admit(const Request &request, const protocol::ParticipantAction &message);
    void deny(const Request &request, const protocol::ParticipantAction &message);
    void removeParticipant(const Request &request, const protocol::ParticipantAction &message);
    void endConsultation(const Request &request, const protocol::EndConsultation &message);

    // The connection layer: a connection closed (before the Peer is
    // destroyed). `resumable`: its place is kept for the resume grace.
    void sessionClosed(Peer *peer, bool resumable);
    // The connection's identity changed (token refresh): leave the rooms no
    // longer granted, re-evaluate host roles.
    void identityChanged(Peer *peer);

    // The admin API and the idle sweep. Members get room_closed.
    std::optional<QStringList> closeRoom(const QString &roomId, const QString &reason);
    struct Closed
    {
        QStringList rooms;       // sorted
        QStringList connections; // their members
    };
    Closed closeRoomsIdleSince(qint64 cutoffMs, const QString &reason);
    // Ends the consultation as a host would; false when there is no such room.
    bool endByAdmin(const QString &roomId, const QString &actor);

    // Queries (observers read, never write).
    [[nodiscard]] const Room *find(const QString &roomId) const;
    [[nodiscard]] qsizetype count() const { return m_rooms.size(); }
    [[nodiscard]] QList<const Room *> rooms() const;
    [[nodiscard]] QStringList idleSince(qint64 cutoffMs) const;
    [[nodiscard]] QStringList roomsOf(const QString &connectionId) const { return m_byConnection.value(connectionId); }

private:
    // A join in progress: its request, message and resume point.
    struct JoinTicket
    {
        Request request;
        protocol::Envelope envelope;
        protocol::JoinRoom message;
        bool decided = false; // cluster mode: the link decided it; its change is on its way
    };
    // Cluster mode: a stored message held until the ones before it arrived.
    struct StoredArrival
    {
        store::MessageClass cls = store::MessageClass::Chat;
        QString sender;
        QByteArray body;
    };
    // Cluster mode: a room's bookkeeping beside its state.
    struct SharedSync
    {
        std::map<qint64, RoomChange> pending;     // by version: ahead of a missing one, or while opening or resyncing
        std::map<qint64, StoredArrival> stored;   // by seq: ahead of a missing one, or while resyncing
        QHash<QString, std::shared_ptr<JoinTicket>> joins; // decided, waiting for their change
        qint64 maxSeenSeq = 0;                    // stored messages seen while opening
        bool resyncing = false;
        bool filling = false;                     // missing stored messages are being read
        bool reassert = false;                    // the next resync tells the link this instance's members
        bool awaitingJournal = false;             // a resync waits for the outage journal to be written
        int appendsInFlight = 0;                  // stored messages sent to the link, not answered yet
        qint64 committedSeq = 0;                  // the highest number the link gave a message from here
    };
    // Cluster mode: a stored message numbered here while the link was down,
    // in a room whose members were all here; written to the shared history,
    // in order, once the link is back.
    struct Journaled
    {
        store::AppendRequest request;
        qint64 seq = 0;
        QString sender;
    };
    struct Journal
    {
        std::deque<Journaled> entries;
        qint64 bytes = 0;
        bool flushing = false; // one entry on its way to the link
        bool renumber = false; // the shared numbering moved on meanwhile: the rest get new numbers
    };
    Room *roomOf(const QString &roomId) const;
    Room &openRoom(const QString &roomId, qint64 appointmentId);
    void onRoomRecord(const QString &roomId, qint64 lastSeq, qint64 refuseUntilMs);
    void continueJoin(const std::shared_ptr<JoinTicket> &ticket);
    void refuseJoin(const Request &request, const QString &roomId, protocol::ErrorCode code, const QString &message);
    // Adds the peer as a Joining member and fetches what its room_state needs.
    void enter(Room &room, Peer &peer, const protocol::JsonObjectView &join, std::optional<qint64> lastSeq,
               const QJsonValue &requestId, bool announce);
    void takeOver(Room &room, Member &away, Peer &peer, std::optional<qint64> lastSeq, const QJsonValue &requestId);
    void fetchRoomState(Room &room, const QString &connectionId, std::optional<qint64> lastSeq,
                        const QJsonValue &requestId);
    void finishJoin(const QString &roomId, const QString &connectionId, qint64 upToSeq,
                    std::optional<qint64> lastSeq, const QJsonValue &requestId, const store::Snapshot &snapshot,
                    const store::ReadResult *replay);
    void addWaiting(Room &room, Peer &peer, const protocol::Envelope &envelope, const protocol::JoinRoom &join,
                    const QJsonValue &requestId);
    void relayCommitted(const QString &roomId, protocol::MessageKind kind, const QString &senderConnectionId,
                        const QByteArray &body, const Request &request, const QString &clientMessageId,
                        bool ok, qint64 seq, bool duplicate);
    // Sends to members (holding it for joining ones); returns how many got it.
    int deliver(Room &room, const QList<Member *> &recipients, const OutboundMessage &message);
    void sendToHosts(Room &room, const OutboundMessage &message);
    // Removes a member and tells the others; may delete the room.
    void removeMember(Room &room, const QString &connectionId, const QString &reason,
                      const QByteArray &announcement = {}, const events::Actor &by = {});
    void removeWaiting(Room &room, const QString &connectionId, const QString &decision, const events::Actor &by);
    void expireAway(const QString &roomId, const QString &connectionId);
    void closeWith(Room &room, const OutboundMessage &notice, const QString &memberReason,
                   const QString &roomReason, QStringList *closedConnections);
    void endRoom(Room &room, const QString &reason, const events::Actor &by, const QString &endedBy);
    void deleteIfEmpty(const QString &roomId);
    void index(const QString &connectionId, const QString &roomId);
    void unindex(const QString &connectionId, const QString &roomId);
    void lifecycleTick();
    [[nodiscard]] bool checkHost(const Request &request, Room *&room, const QString &roomId);
    void publish(const events::RoomEvent &event, bool remote = false);
    [[nodiscard]] QByteArray leaveText(const Room &room, const Member &member, const QString &reason,
                                       const protocol::JsonObjectView *leave = nullptr) const;

    // Cluster mode (RoomServiceCluster.cpp).
    void roomChanged(const QString &roomId, const RoomChange &change) override;
    void storedArrived(const QString &roomId, qint64 seq, store::MessageClass cls, const QString &senderConnectionId,
                       const QByteArray &body) override;
    void relayArrived(const QString &roomId, protocol::MessageKind kind, const QString &senderConnectionId,
                      const QStringList &targets, const QByteArray &text) override;
    void roomNeedsResync(const QString &roomId) override;
    void linkChanged(bool available) override;
    void openShared(const QString &roomId);
    void onSharedOpened(const QString &roomId, const SharedRoom &shared);
    void joinShared(const std::shared_ptr<JoinTicket> &ticket, Room &room);
    void onJoinDecided(const QString &roomId, const QString &connectionId, const JoinDecision &decision);
    // `keepMissing`: members of other instances the shared state lacks stay
    // (the shared state was lost and is being rebuilt).
    void applyShared(Room &room, const SharedRoom &shared, bool announce, bool keepMissing = false);
    // After a resync: local joins whose change the fetch covered.
    void settleDecidedJoins(const QString &roomId, const SharedRoom &shared);
    void applyChange(Room &room, const RoomChange &change);
    void drainPending(const QString &roomId);
    void enterLocal(Room &room, Peer &peer, const SharedMember &member, const QByteArray &announcement,
                    std::optional<qint64> lastSeq, const QJsonValue &requestId);
    void addRemoteMember(Room &room, const SharedMember &member, const QByteArray &announcement, bool resumed);
    void deliverStored(Room &room, qint64 seq, store::MessageClass cls, const QString &sender, const QByteArray &body);
    void fillStoredGap(const QString &roomId, qint64 upToSeq);
    void releaseStored(const QString &roomId);
    void resync(const QString &roomId);
    void finishResync(const QString &roomId, const SharedRoom &shared);
    void relayShared(Room &room, protocol::MessageKind kind, const QString &sender, const std::optional<QString> &to,
                     const QList<Member *> &recipients, const QByteArray &text);
    void commandShared(const Request &request, SharedCommand command);
    void forgetShared(const QString &roomId);
    [[nodiscard]] SharedMember sharedOf(const Member &member) const;
    [[nodiscard]] SharedMember sharedOf(const WaitingGuest &guest) const;
    [[nodiscard]] SharedJoin sharedDefaults(const Room &room) const;
    // Tells the room's other members that this one joined (a telemedicine_user_joined of the server's).
    void announceJoined(Room &room, const QString &connectionId);
    void expireDueAway();
    void appendShared(store::AppendRequest append, const QString &sender,
                      std::function<void(const store::AppendResult &)> committed);
    // The link is down (or the outage journal not written yet): numbers the
    // message here when every member of its room is here; false when it
    // cannot be served now.
    bool journalStored(Room &room, protocol::MessageKind kind, const QString &sender, store::AppendRequest append,
                       const Request &request, const QString &clientMessageId);
    void flushJournal(const QString &roomId);
    void journalFlushed(const QString &roomId, const store::AppendResult &result);
    // The end of a resync: stored messages missed meanwhile, from the history.
    void catchUpStored(const QString &roomId);
    [[nodiscard]] bool clustered() const { return m_cluster != nullptr; }

    RoomConfig m_config;
    AccessPolicy m_access;
    store::HistoryStore &m_history;
    Fanout &m_fanout;
    QHash<QString, Room *> m_rooms;                  // owned
    QHash<QString, QStringList> m_byConnection;      // rooms a connection is in or waiting for
    QHash<QString, QList<std::function<void()>>> m_opening; // joins waiting for the store's room record
    QHash<QString, qint64> m_ended;                  // room id -> joins refused until (ms)
    QList<std::pair<events::RoomEventObserver *, bool>> m_observers; // and whether it hears remote changes
    JoinCompanion *m_companion = nullptr;
    QTimer m_lifecycle;
    ClusterLink *m_cluster = nullptr;
    QHash<QString, SharedSync> m_sync;               // cluster mode: per room
    QHash<QString, Journal> m_journals;              // cluster mode: by room, kept after its room closes
    qint64 m_journalBytes = 0;
    QSet<QString> m_unreachable;                     // rooms whose opening failed: their waiting joins are refused
    bool m_applyingRemote = false;                   // applying a change another instance made
};

} // namespace medrelay::server
