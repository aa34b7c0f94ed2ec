#pragma once
// The one writer of room state. Every change to a room (joins and leaves,
// the waiting room and admission, settings, removal, relaying and numbering
// messages, the resume grace, ending a consultation, closing rooms) happens
// here, and each is published as a typed event for the observers (audit,
// admin API, metrics). Commands that need the history store finish later,
// without blocking other rooms: they hold a Request, whose reply is dropped
// if the sender is gone by then.

#include "consultation/AccessPolicy.h"
#include "consultation/JoinCompanion.h"
#include "consultation/Room.h"
#include "consultation/RoomEvents.h"
#include "model/Request.h"
#include "protocol/Messages.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <functional>
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
};

class RoomService final : public QObject
{
    Q_OBJECT
public:
    RoomService(RoomConfig config, AccessPolicy access, store::HistoryStore &history, Fanout &fanout,
                QObject *parent = nullptr);
    ~RoomService() override;
    Q_DISABLE_COPY_MOVE(RoomService)

    void addObserver(events::RoomEventObserver *observer) { m_observers.append(observer); }
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
    struct JoinTicket; // a join in progress: its request, message and resume point
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
    void publish(const events::RoomEvent &event);
    [[nodiscard]] QByteArray leaveText(const Room &room, const Member &member, const QString &reason,
                                       const protocol::JsonObjectView *leave = nullptr) const;

    RoomConfig m_config;
    AccessPolicy m_access;
    store::HistoryStore &m_history;
    Fanout &m_fanout;
    QHash<QString, Room *> m_rooms;                  // owned
    QHash<QString, QStringList> m_byConnection;      // rooms a connection is in or waiting for
    QHash<QString, QList<std::function<void()>>> m_opening; // joins waiting for the store's room record
    QHash<QString, qint64> m_ended;                  // room id -> joins refused until (ms)
    QList<events::RoomEventObserver *> m_observers;
    JoinCompanion *m_companion = nullptr;
    QTimer m_lifecycle;
};

} // namespace medrelay::server
