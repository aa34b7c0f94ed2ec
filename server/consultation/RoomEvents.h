#pragma once
// What happened to rooms, as types. The room service is the only source of
// these; the audit trail, the admin API's event ring, metrics and the admin
// stream observe them and switch on the type. Ids and reasons only: never
// chat text, whiteboard data, SDP or names.

#include <QString>
#include <QStringList>

#include <variant>

namespace medrelay::server::events {

// Who did something: a connection and its user, or the server itself
// ("system"), or an administrator ("admin:<address>").
struct Actor
{
    QString connectionId;
    QString userId;
};

struct RoomOpened
{
    QString roomId;
    qint64 appointmentId = 0;
};

// The room is gone from this instance: its last member left ("empty"), an
// administrator closed it, the idle sweep did, or its consultation ended.
struct RoomClosed
{
    QString roomId;
    qint64 appointmentId = 0;
    QString reason;
    QStringList connectionIds; // members and waiting guests it removed
};

struct MemberJoined
{
    QString roomId;
    qint64 appointmentId = 0;
    QString connectionId;
    QString userId;
    QString role;
    bool host = false;
    bool resumed = false; // took over its own place within the resume grace
};

// reason: left, disconnected, timeout (resume grace over), removed,
// grant_revoked, room_closed, consultation_ended.
struct MemberLeft
{
    QString roomId;
    qint64 appointmentId = 0;
    QString connectionId;
    QString userId;
    QString reason;
    Actor by; // for removed: the host who did it
};

// The member's socket dropped; its place is kept for the resume grace.
struct MemberAway
{
    QString roomId;
    qint64 appointmentId = 0;
    QString connectionId;
    QString userId;
};

struct GuestWaiting
{
    QString roomId;
    qint64 appointmentId = 0;
    QString connectionId;
    QString userId;
};

// A waiting guest was admitted or denied by a host, or stopped waiting
// (left, disconnected): decision "admitted", "denied" or "cancelled".
struct AdmissionDecided
{
    QString roomId;
    qint64 appointmentId = 0;
    QString connectionId;
    QString userId;
    QString decision;
    Actor by;
};

// A join was refused; `code` is the wire error code sent to the client.
struct JoinRefused
{
    QString roomId;
    QString connectionId;
    QString userId;
    QString code;
};

struct SettingsChanged
{
    QString roomId;
    qint64 appointmentId = 0;
    bool waitingRoom = false;
    bool locked = false;
    Actor by;
};

struct ConsultationEnded
{
    QString roomId;
    qint64 appointmentId = 0;
    QString reason; // ended_by_host, ended_by_admin, max_duration
    Actor by;
    bool historyDeleted = false;
};

using RoomEvent = std::variant<RoomOpened, RoomClosed, MemberJoined, MemberLeft, MemberAway, GuestWaiting,
                               AdmissionDecided, JoinRefused, SettingsChanged, ConsultationEnded>;

// std::visit(Overloaded{[](const RoomOpened &) {...}, ...}, event)
template<class... Ts>
struct Overloaded : Ts...
{
    using Ts::operator()...;
};
template<class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

class RoomEventObserver
{
public:
    virtual ~RoomEventObserver() = default;
    virtual void roomEvent(const RoomEvent &event) = 0;

protected:
    RoomEventObserver() = default;
    Q_DISABLE_COPY_MOVE(RoomEventObserver)
};

} // namespace medrelay::server::events
