#pragma once
// The admin actions with their confirmations, as steps without
// widgets: a request names what would happen (confirmationRequested), the
// window (or a test) answers confirm() or cancel(), the AdminClient sends it,
// and the result comes back as a status line, two event-log entries (what was
// asked, what the server answered) and, on failure, a notice. Closing idle
// rooms asks the server first (a dry run) and confirms the rooms it names.

#include "core/AdminClient.h"

#include <QObject>
#include <QStringList>

#include <functional>

namespace medrelay::console {

class EventLogModel;
class ParticipantsModel;
class RoomsModel;

struct Confirmation
{
    enum class Kind { CloseRoom, CloseIdleRooms, DisconnectParticipant, EndConsultation };

    Kind kind = Kind::CloseRoom;
    QString title;
    QString message;
    QString confirmText;   // the button that goes ahead
    QString defaultReason; // passed on to the people affected
    QStringList items;     // every room an idle close would close, in full
    QString roomId;
    QString connectionId;
    qint64 idleSeconds = 0;
};

struct Notice
{
    enum class Severity { Information, Warning };
    Severity severity = Severity::Information;
    QString title;
    QString text;
};

class AdminActions final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AdminActions)

public:
    // None owned; all must outlive this object. `live` says whether the server answers now.
    AdminActions(AdminClient *client, RoomsModel *rooms, ParticipantsModel *participants, EventLogModel *log,
                 std::function<bool()> live, QObject *parent = nullptr);

    // Each returns false (and asks nothing) when there is nothing to act on.
    bool requestCloseRoom(const QString &roomId);
    bool requestDisconnect(const QString &connectionId);
    bool requestEndConsultation(const QString &roomId);
    // Asks the server which rooms have been idle that long; confirmation follows.
    bool requestCloseIdleRooms(qint64 idleSeconds, const QString &reason);

    void confirm(const Confirmation &confirmation, const QString &reason);
    void cancel(const Confirmation &confirmation);

    [[nodiscard]] bool isCountingIdleRooms() const { return m_countingIdle; }

Q_SIGNALS:
    void confirmationRequested(const medrelay::console::Confirmation &confirmation);
    void noticeRequested(const medrelay::console::Notice &notice);
    // Empty text clears what an earlier step left in the status bar.
    void statusMessage(const QString &text, int timeoutMs);
    void finished(medrelay::console::AdminClient::Action action, const medrelay::adminapi::ActionResult &result);

private:
    void onActionFinished(AdminClient::Action action, const adminapi::ActionResult &result);
    void confirmIdleRooms(const adminapi::ActionResult &dryRun);

    AdminClient *m_client = nullptr;
    RoomsModel *m_rooms = nullptr;
    ParticipantsModel *m_participants = nullptr;
    EventLogModel *m_log = nullptr;
    std::function<bool()> m_live;
    qint64 m_idleSeconds = 0; // between the dry run and its confirmation
    QString m_idleReason;
    bool m_countingIdle = false;
};

} // namespace medrelay::console
