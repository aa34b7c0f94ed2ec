#pragma once
// One consultation room's state: its appointment, members (joining, active,
// or away within the resume grace), guests in the waiting room, its settings
// and lifecycle, and the last seq it relayed. Plain data with lookups; the
// RoomService is the only code that changes it.

#include "model/Identity.h"
#include "model/OutboundMessage.h"
#include "model/Peer.h"
#include "protocol/JsonScanner.h"
#include "protocol/MessageKind.h"

#include <QJsonValue>
#include <QList>
#include <QSet>
#include <QString>

#include <array>
#include <optional>

QT_BEGIN_NAMESPACE
class QTimer;
QT_END_NAMESPACE

namespace medrelay::server {

enum class MemberState : quint8 {
    Joining, // room_state not sent yet: messages for it are held
    Active,
    Away,    // its socket dropped; its place is kept for the resume grace
};

struct Member
{
    Peer *peer = nullptr;  // null while Away, and for a member on another instance
    QString connectionId;  // while Away: the connection that dropped
    Identity identity;     // as of its join or last token refresh
    QByteArray stamp;      // its server-owned fields, encoded once (see Stamp.h)
    bool host = false;
    MemberState state = MemberState::Joining;
    qint64 joinedAtMs = 0;
    qint64 lastActivityMs = 0;
    QList<OutboundMessage> held; // while Joining, in order
    qint64 heldBytes = 0;
    QTimer *graceTimer = nullptr; // while Away
    // Cluster mode: the instance holding the member's connection (empty:
    // this one), and while Away, when its place is given up.
    QString instance;
    qint64 awayUntilMs = 0;

    [[nodiscard]] bool isLocal() const { return instance.isEmpty(); }
};

struct WaitingGuest
{
    Peer *peer = nullptr; // null for a guest on another instance
    QString connectionId;
    Identity identity;
    qint64 sinceMs = 0;
    protocol::JsonObjectView join; // the join message, announced when admitted
    std::optional<qint64> lastSeq;
    QJsonValue requestId;
    QString instance; // cluster mode: empty on this instance

    [[nodiscard]] bool isLocal() const { return instance.isEmpty(); }
};

class Room final
{
public:
    Room(QString id, qint64 appointmentId, qint64 nowMs, bool waitingRoom);
    Q_DISABLE_COPY_MOVE(Room)

    [[nodiscard]] const QString &id() const { return m_id; }
    [[nodiscard]] qint64 appointmentId() const { return m_appointmentId; }
    [[nodiscard]] qint64 createdAtMs() const { return m_createdAtMs; }
    [[nodiscard]] qint64 lastActivityMs() const { return m_lastActivityMs; }
    [[nodiscard]] const QList<Member> &members() const { return m_members; }
    [[nodiscard]] const QList<WaitingGuest> &waiting() const { return m_waiting; }
    // Members of any state (away ones keep their place).
    [[nodiscard]] qsizetype size() const { return m_members.size(); }
    [[nodiscard]] bool isEmpty() const { return m_members.isEmpty() && m_waiting.isEmpty(); }
    // Cluster mode: whether a member or guest of this instance is in it.
    [[nodiscard]] bool hasLocal() const;
    [[nodiscard]] bool waitingRoom() const { return m_waitingRoom; }
    [[nodiscard]] bool locked() const { return m_locked; }
    [[nodiscard]] bool hostPresent() const;
    [[nodiscard]] qint64 lastSeq() const { return m_lastSeq; }
    [[nodiscard]] bool isOpening() const { return m_opening; }
    [[nodiscard]] qint64 endsAtMs() const { return m_endsAtMs; }
    [[nodiscard]] qint64 messageCount(protocol::MessageKind kind) const
    {
        return m_counts[static_cast<std::size_t>(kind)];
    }

    [[nodiscard]] const Member *member(const QString &connectionId) const;
    [[nodiscard]] Member *member(const QString &connectionId);
    [[nodiscard]] Member *awayMemberOf(const QString &userId);
    [[nodiscard]] const WaitingGuest *waitingGuest(const QString &connectionId) const;
    // Cluster mode: whether a member on another instance (not away) would
    // receive what is sent to the room.
    [[nodiscard]] bool hasRemoteRecipients() const;
    // Cluster mode: whether every member (away ones included) is on this instance.
    [[nodiscard]] bool allMembersLocal() const;

    // Members other than `senderConnectionId` that a message goes to: all
    // (not away), or with `to` the member with that connection id, else the
    // members with that user id. A connection id always wins, so nobody can
    // capture a message addressed to someone else's connection by claiming
    // that id as a user id.
    [[nodiscard]] QList<Member *> recipients(const QString &senderConnectionId, const std::optional<QString> &to);

private:
    friend class RoomService;

    QString m_id;
    qint64 m_appointmentId = 0;
    qint64 m_createdAtMs = 0;
    qint64 m_lastActivityMs = 0;
    qint64 m_lastSeq = 0;
    qint64 m_endsAtMs = 0; // 0: no maximum duration
    QList<Member> m_members;
    QList<WaitingGuest> m_waiting;
    QSet<QString> m_removedUsers; // removed by a host: may not come back
    std::array<qint64, protocol::kMessageKindCount> m_counts{};
    bool m_waitingRoom = false;
    bool m_locked = false;
    bool m_opening = true; // waiting for the store's record of the room
    bool m_warned = false; // consultation_warning sent
    qint64 m_version = 0;  // cluster mode: the shared state's version applied here
};

} // namespace medrelay::server
