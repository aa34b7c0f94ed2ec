#pragma once
// What the room service needs from other instances when several medrelay
// instances share rooms (cluster mode, --redis). In single-instance mode the
// room service has no link and decides everything itself, exactly as before.
//
// The model: each room's shared state (members on every instance, waiting
// guests, settings, removed users) lives outside the instances, and every
// change to it is decided atomically there (two instances never both admit
// past a lock or the participant cap) and announced as a numbered change
// (RoomChange::version, one more per change) on the room's channel, which
// every instance serving the room applies in order, its own changes
// included. A missed number means a missed change: the instance fetches the
// whole state again (resync). Stored messages travel on the same channel in
// seq order; relayed signalling crosses once per instance, with its targets.
//
// Every call returns at once; results come back on the thread of `context`.
// Calls made while the link is down fail (available() says so); changes of
// local connections that cannot wait (a socket closed) are applied locally
// at once and told to the others when the link is back (resync).

#include "model/Identity.h"
#include "protocol/ErrorCode.h"
#include "protocol/MessageKind.h"
#include "store/HistoryStore.h"

#include <QByteArray>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>

namespace medrelay::server {

// A member as every instance sees it.
struct SharedMember
{
    QString connectionId;
    QString instance; // the instance holding its connection
    Identity identity; // userId, userName, role only
    bool host = false;
    qint64 joinedAtMs = 0;
    bool away = false;
    qint64 awayUntilMs = 0; // while away: when its place is given up
};

// A room's shared state at one version.
struct SharedRoom
{
    bool ok = false;     // false: the link failed; `error` says why
    bool exists = false; // false: nobody is in the room
    qint64 version = 0;
    qint64 appointmentId = 0;
    qint64 createdAtMs = 0;
    qint64 endsAtMs = 0;
    bool waitingRoom = false;
    bool locked = false;
    bool ended = false; // joins refused (the consultation ended)
    QList<SharedMember> members;
    QList<SharedMember> waiting; // joinedAtMs: since when it waits
    QStringList removedUsers;
    QString error;
};

// One numbered change of a room's shared state.
struct RoomChange
{
    enum class Type : quint8 {
        Joined,   // member (text: the join announcement)
        Resumed,  // member took over connectionId (an away member of the same user)
        Waiting,  // member (a guest) waits for admission
        Admitted, // member (the guest, now a member)
        Resolved, // waiting guest connectionId gone: decision "denied" or "cancelled"
        Left,     // member connectionId left (reason; text: the announcement, when the client sent one)
        Away,     // member connectionId away until awayUntilMs
        Back,     // member connectionId active again on its instance (after a resync)
        Removed,  // members connectionIds of user userId removed by a host
        Settings, // waitingRoom, locked changed
        Ended,    // the consultation ended (reason, endedBy, atMs, refuseUntilMs)
        Closed,   // closed by an administrator or the idle sweep (reason)
        Unknown,
    };
    Type type = Type::Unknown;
    qint64 version = 0;
    QString origin; // the instance that made the change
    SharedMember member;
    QString connectionId;
    QStringList connectionIds;
    QString userId;
    QString reason;
    QString decision;
    QString by;        // the user id that acted ("admin:<address>", "system")
    QString byConnection;
    bool waitingRoom = false;
    bool locked = false;
    qint64 awayUntilMs = 0;
    QString endedBy;
    qint64 atMs = 0;
    qint64 refuseUntilMs = 0;
    QJsonValue requestId; // Settings: the host's request id
    QByteArray text;      // Joined, Left: the announcement as relayed
};

// What a join asks of the shared state, and what it decided.
struct SharedJoin
{
    QString roomId;
    SharedMember member;
    qint64 appointmentId = 0;
    int maxParticipants = 64;
    bool waitingRoomByDefault = false;
    qint64 endsAtMs = 0; // for a room that starts now
    QByteArray announcement;
};

struct JoinDecision
{
    enum class Outcome : quint8 { Joined, Resumed, Waiting, AlreadyMember, AlreadyWaiting, Refused, Failed };
    Outcome outcome = Outcome::Failed;
    protocol::ErrorCode refusal = protocol::ErrorCode::InternalError;
    qint64 version = 0; // of the change it made
    QString error;
};

// A host's (or an administrator's) command on the shared state.
struct SharedCommand
{
    enum class Type : quint8 { Admit, Deny, Remove, Settings, End, Close };
    Type type = Type::Admit;
    QString roomId;
    QString connectionId; // Admit, Deny, Remove
    QString by;           // acting user id (or admin:<address>, system)
    QString byConnection;
    std::optional<bool> waitingRoom; // Settings
    std::optional<bool> locked;      // Settings
    QJsonValue requestId;            // Settings
    int maxParticipants = 64;        // Admit, Settings
    QString reason;                  // End, Close
    QString endedBy;                 // End
    qint64 atMs = 0;                 // End
    qint64 refuseUntilMs = 0;        // End
};

struct CommandResult
{
    bool ok = false;
    protocol::ErrorCode refusal = protocol::ErrorCode::InternalError; // when !ok and the command was refused
    QString error;
    QStringList refusedFull; // Settings: guests still waiting because the room is full
    qint64 version = 0;
};

// The room service's side: what arrives from other instances (and back from
// this one), on the room service's thread.
class ClusterSink
{
public:
    virtual ~ClusterSink() = default;
    virtual void roomChanged(const QString &roomId, const RoomChange &change) = 0;
    // A stored message, in seq order per room (its sender excluded from delivery).
    virtual void storedArrived(const QString &roomId, qint64 seq, store::MessageClass cls,
                               const QString &senderConnectionId, const QByteArray &body) = 0;
    // Signalling (or an announcement) relayed from another instance: to every
    // local member but the sender, or only to `targets` when given.
    virtual void relayArrived(const QString &roomId, protocol::MessageKind kind, const QString &senderConnectionId,
                              const QStringList &targets, const QByteArray &text) = 0;
    // The link is up again and the room's channel is live: fetch everything
    // anew (changes and stored messages may have been missed).
    virtual void roomNeedsResync(const QString &roomId) = 0;
    // The link went down or came back.
    virtual void linkChanged(bool available) = 0;

protected:
    ClusterSink() = default;
    Q_DISABLE_COPY_MOVE(ClusterSink)
};

class ClusterLink
{
public:
    virtual ~ClusterLink() = default;

    virtual void setSink(ClusterSink *sink) = 0;
    [[nodiscard]] virtual const QString &instanceId() const = 0;
    [[nodiscard]] virtual bool available() const = 0;

    // Starts receiving a room's channel; `done` runs once it is live, with
    // the room's shared state as of then (changes after it arrive in order).
    virtual void openRoom(const QString &roomId, QObject *context, std::function<void(SharedRoom)> done) = 0;
    // No local member or guest is left: stop receiving the room.
    virtual void releaseRoom(const QString &roomId) = 0;
    // The room's shared state now (a resync).
    virtual void fetchRoom(const QString &roomId, QObject *context, std::function<void(SharedRoom)> done) = 0;
    // After the link was down: makes the shared state hold exactly this
    // instance's members and guests of the room (others untouched).
    // `done(ok, ended)`.
    virtual void syncRoom(const QString &roomId, const QList<SharedMember> &members,
                          const QList<SharedMember> &waiting, const SharedJoin &defaults, QObject *context,
                          std::function<void(bool ok, bool ended)> done) = 0;

    virtual void join(const SharedJoin &join, QObject *context, std::function<void(JoinDecision)> done) = 0;
    virtual void command(const SharedCommand &command, QObject *context, std::function<void(CommandResult)> done) = 0;
    // Changes of this instance's own members, told to the others.
    virtual void left(const QString &roomId, const QString &connectionId, const QString &reason,
                      const QByteArray &announcement, const QString &by) = 0;
    virtual void away(const QString &roomId, const QString &connectionId, qint64 awayUntilMs) = 0;
    virtual void cancelWaiting(const QString &roomId, const QString &connectionId) = 0;
    // An away member's grace is over (whichever instance notices first).
    virtual void expire(const QString &roomId, const QString &connectionId) = 0;

    // Sends signalling (or an announcement) to the room's other instances:
    // to every member but the sender, or to `targets` only.
    virtual void relay(const QString &roomId, protocol::MessageKind kind, const QString &senderConnectionId,
                       const QStringList &targets, const QByteArray &text) = 0;
    // Stores a message (numbered by the shared history) and, in the same
    // step, sends it on the room's channel, to this instance too.
    virtual void appendStored(store::AppendRequest request, const QString &senderConnectionId, QObject *context,
                              std::function<void(store::AppendResult)> done) = 0;
    // A message this instance numbered itself while the link was down (every
    // member of its room was here): stored as number `seq` and sent on the
    // room's channel only if the room's numbering stands at seq - 1; else
    // nothing is stored and the result says `conflict`.
    virtual void appendStoredAt(store::AppendRequest request, qint64 seq, const QString &senderConnectionId,
                                QObject *context, std::function<void(store::AppendResult)> done) = 0;

protected:
    ClusterLink() = default;
    Q_DISABLE_COPY_MOVE(ClusterLink)
};

} // namespace medrelay::server
