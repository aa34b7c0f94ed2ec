#include "controller/AdminActions.h"

#include "core/EventLogModel.h"
#include "core/Format.h"
#include "core/ParticipantsModel.h"
#include "core/RoomsModel.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

AdminActions::AdminActions(AdminClient *client, RoomsModel *rooms, ParticipantsModel *participants,
                           EventLogModel *log, std::function<bool()> live, QObject *parent)
    : QObject(parent), m_client(client), m_rooms(rooms), m_participants(participants), m_log(log),
      m_live(std::move(live))
{
    connect(m_client, &AdminClient::actionFinished, this, &AdminActions::onActionFinished);
}

bool AdminActions::requestCloseRoom(const QString &roomId)
{
    const adminapi::RoomInfo *room = m_rooms->room(roomId);
    if (!room || !m_live())
        return false;
    Confirmation c;
    c.kind = Confirmation::Kind::CloseRoom;
    c.title = tr("Close room");
    c.message = tr("Close room %1 (appointment %2)? Its %n participant(s) are told the consultation is closed and "
                   "removed from the room.",
                   nullptr, room->connectionCount)
                    .arg(room->id)
                    .arg(room->appointmentId);
    c.confirmText = tr("Close room");
    c.defaultReason = tr("Closed by the clinic's administrator");
    c.roomId = room->id;
    Q_EMIT confirmationRequested(c);
    return true;
}

bool AdminActions::requestEndConsultation(const QString &roomId)
{
    const adminapi::RoomInfo *room = m_rooms->room(roomId);
    if (!room || !m_live())
        return false;
    Confirmation c;
    c.kind = Confirmation::Kind::EndConsultation;
    c.title = tr("End consultation");
    const QString people = room->waitingCount > 0
                               ? tr("Its %n participant(s)", nullptr, room->connectionCount) + u' '
                                     + tr("and %n waiting guest(s)", nullptr, room->waitingCount)
                               : tr("Its %n participant(s)", nullptr, room->connectionCount);
    c.message = tr("End the consultation in room %1 (appointment %2)? %3 are told it has ended and removed, its "
                   "stored messages are deleted, and the room refuses new joins for a while.")
                    .arg(room->id)
                    .arg(room->appointmentId)
                    .arg(people);
    c.confirmText = tr("End consultation");
    c.defaultReason = tr("Ended by the clinic's administrator");
    c.roomId = room->id;
    Q_EMIT confirmationRequested(c);
    return true;
}

bool AdminActions::requestDisconnect(const QString &connectionId)
{
    const adminapi::ParticipantInfo *p = m_participants->participant(connectionId);
    if (!p || !m_live())
        return false;
    const QString who = p->userName.isEmpty() ? tr("user %1").arg(p->userId)
                                              : tr("user %1 (%2)").arg(p->userId, p->userName);
    Confirmation c;
    c.kind = Confirmation::Kind::DisconnectParticipant;
    c.title = tr("Disconnect participant");
    c.message = tr("Disconnect %1 from room %2? Their connection %3 is closed; they may join again.")
                    .arg(who, m_participants->roomId(), connectionId);
    c.confirmText = tr("Disconnect");
    c.defaultReason = tr("Disconnected by the clinic's administrator");
    c.roomId = m_participants->roomId();
    c.connectionId = connectionId;
    Q_EMIT confirmationRequested(c);
    return true;
}

bool AdminActions::requestCloseIdleRooms(qint64 idleSeconds, const QString &reason)
{
    if (!m_live() || idleSeconds <= 0)
        return false;
    m_idleSeconds = idleSeconds;
    m_idleReason = reason;
    m_countingIdle = true;
    Q_EMIT statusMessage(tr("Asking the server how many rooms are idle\u2026"), 0);
    m_client->closeIdleRooms(idleSeconds, reason, true);
    return true;
}

void AdminActions::confirmIdleRooms(const adminapi::ActionResult &dryRun)
{
    const QString idleFor = format::duration(m_idleSeconds);
    if (dryRun.rooms.isEmpty()) {
        const QString text = tr("No room has been idle for more than %1.").arg(idleFor);
        m_log->addConsoleEntry(u"action"_s, text);
        Q_EMIT statusMessage(text, 8000);
        Q_EMIT noticeRequested({Notice::Severity::Information, tr("Close idle rooms"), text});
        return;
    }
    const int n = static_cast<int>(dryRun.rooms.size());
    Confirmation c;
    c.kind = Confirmation::Kind::CloseIdleRooms;
    c.title = tr("Close idle rooms");
    c.message = tr("%n room(s) have been idle for more than %1. Close them? Their participants are told and removed.",
                   nullptr, n)
                    .arg(idleFor);
    c.confirmText = tr("Close %n room(s)", nullptr, n);
    c.defaultReason = m_idleReason;
    c.items = dryRun.rooms;
    c.idleSeconds = m_idleSeconds;
    Q_EMIT statusMessage({}, 0); // the question is answered: "Asking the server..." goes
    Q_EMIT confirmationRequested(c);
}

void AdminActions::confirm(const Confirmation &c, const QString &reason)
{
    switch (c.kind) {
    case Confirmation::Kind::CloseRoom:
        m_log->addConsoleEntry(u"action"_s, tr("Closing room %1: %2").arg(c.roomId, reason), LogEntry::Severity::Info,
                               c.roomId);
        Q_EMIT statusMessage(tr("Closing room %1\u2026").arg(c.roomId), 0);
        m_client->closeRoom(c.roomId, reason);
        break;
    case Confirmation::Kind::CloseIdleRooms:
        m_log->addConsoleEntry(u"action"_s, tr("Closing rooms idle for more than %1: %2")
                                                .arg(format::duration(c.idleSeconds), reason));
        Q_EMIT statusMessage(tr("Closing idle rooms\u2026"), 0);
        m_client->closeIdleRooms(c.idleSeconds, reason, false);
        break;
    case Confirmation::Kind::EndConsultation:
        m_log->addConsoleEntry(u"action"_s, tr("Ending the consultation in room %1: %2").arg(c.roomId, reason),
                               LogEntry::Severity::Info, c.roomId);
        Q_EMIT statusMessage(tr("Ending the consultation in room %1\u2026").arg(c.roomId), 0);
        m_client->endConsultation(c.roomId, reason);
        break;
    case Confirmation::Kind::DisconnectParticipant:
        m_log->addConsoleEntry(u"action"_s, tr("Disconnecting %1: %2").arg(c.connectionId, reason),
                               LogEntry::Severity::Info, c.roomId, c.connectionId);
        Q_EMIT statusMessage(tr("Disconnecting %1\u2026").arg(c.connectionId), 0);
        m_client->disconnectConnection(c.connectionId, reason);
        break;
    }
}

void AdminActions::cancel(const Confirmation &)
{
    Q_EMIT statusMessage({}, 0);
}

void AdminActions::onActionFinished(AdminClient::Action action, const adminapi::ActionResult &result)
{
    if (action == AdminClient::Action::CloseIdleRoomsDryRun) {
        if (!m_countingIdle)
            return; // not asked by this workflow
        m_countingIdle = false;
        if (result.ok) {
            confirmIdleRooms(result);
            Q_EMIT finished(action, result);
            return;
        }
    }
    QString text;
    if (result.ok) {
        switch (action) {
        case AdminClient::Action::CloseRoom:
            text = tr("Closed room %1; %n participant(s) removed from it", nullptr,
                      static_cast<int>(result.connections.size()))
                       .arg(result.rooms.join(u", "_s));
            break;
        case AdminClient::Action::CloseIdleRooms:
        case AdminClient::Action::CloseIdleRoomsDryRun:
            text = tr("Closed %n idle room(s)", nullptr, static_cast<int>(result.rooms.size()));
            if (!result.rooms.isEmpty())
                text += u": "_s + result.rooms.join(u", "_s);
            break;
        case AdminClient::Action::DisconnectConnection:
            text = tr("Disconnected %1").arg(result.connections.join(u", "_s));
            break;
        case AdminClient::Action::EndConsultation:
            text = tr("Ended the consultation in room %1; %n connection(s) told", nullptr,
                      static_cast<int>(result.connections.size()))
                       .arg(result.rooms.join(u", "_s));
            break;
        }
        if (!result.message.isEmpty())
            text += u" ("_s + result.message + u')';
    } else {
        text = tr("%1 failed: %2").arg(AdminClient::actionName(action), result.message);
    }
    m_log->addConsoleEntry(u"action"_s, text, result.ok ? LogEntry::Severity::Info : LogEntry::Severity::Error,
                           result.rooms.size() == 1 ? result.rooms.constFirst() : QString(),
                           result.connections.size() == 1 ? result.connections.constFirst() : QString());
    Q_EMIT statusMessage(text, 10'000);
    if (!result.ok)
        Q_EMIT noticeRequested({Notice::Severity::Warning, AdminClient::actionName(action), text});
    Q_EMIT finished(action, result);
}

} // namespace medrelay::console
