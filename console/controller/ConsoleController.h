#pragma once
// Everything the console does, without widgets: which server it watches and
// how (a DataSource: the event stream, or polling for older servers), the
// models the window shows (rooms, the selected room's participants, the
// event log, activity, header figures, alerts, the consultation view),
// what is selected, whether what is shown is live or the last known state,
// the admin actions with their confirmations (AdminActions), and what is
// remembered once a server has answered. The window only lays this out and
// asks; tests drive it directly.

#include "controller/AdminActions.h"
#include "controller/AlertRules.h"
#include "core/ActivityHistory.h"
#include "core/ConnectionState.h"
#include "core/ServerFigures.h"

#include <QDateTime>
#include <QObject>
#include <QUrl>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace medrelay::console {

class AdminClient;
class AlertsModel;
class Consultation;
class ConsoleSettings;
class DataSource;
class EventLogModel;
class ParticipantsModel;
class RoomFilterModel;
class RoomsModel;
class WaitingGuestRule;

// What to remember about a server once it has answered (never before, so
// a mistyped address does not become a "recent server").
struct RememberChoices
{
    bool server = false; // add to the recent servers
    bool token = false;  // keep the token in the token file
};

class ConsoleController final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConsoleController)

public:
    using Remember = RememberChoices;

    // `client` (actions, and polling) is not owned; `settings` may be null
    // (unattended runs): nothing is then remembered.
    ConsoleController(AdminClient *client, ConsoleSettings *settings, QObject *parent = nullptr);
    ~ConsoleController() override;

    [[nodiscard]] RoomsModel *rooms() const { return m_rooms; }
    [[nodiscard]] RoomFilterModel *roomsFilter() const { return m_roomsFilter; }
    [[nodiscard]] ParticipantsModel *participants() const { return m_participants; }
    [[nodiscard]] EventLogModel *eventLog() const { return m_log; }
    [[nodiscard]] AlertsModel *alerts() const { return m_alerts; }
    [[nodiscard]] const ActivityHistory &history() const { return m_history; }
    [[nodiscard]] const std::optional<ServerFigures> &figures() const { return m_figures; }
    [[nodiscard]] AdminActions *actions() const { return m_actions; }
    [[nodiscard]] AdminClient *client() const { return m_client; }
    [[nodiscard]] ConsoleSettings *settings() const { return m_settings; }
    [[nodiscard]] DataSource *source() const { return m_source; }
    // The consultation view's state (one room at a time).
    [[nodiscard]] Consultation *consultation() const { return m_consultation; }

    // Uses `source` from now on (owned); the previous one is stopped and deleted.
    void setSource(DataSource *source);
    void addAlertRule(std::unique_ptr<AlertRule> rule);

    // Connection. `remember` is what the user chose in the Connect dialog;
    // without it (a --server start) nothing is remembered or forgotten.
    void connectTo(const QUrl &server, const QString &token, std::optional<Remember> remember = std::nullopt);
    void disconnectFromServer();
    // F5: fresh data now, or an immediate retry when unreachable. Not after
    // Disconnect or a refused token: that needs a deliberate Connect.
    [[nodiscard]] bool canRefresh() const;
    void refresh();
    [[nodiscard]] QUrl server() const { return m_server; }
    [[nodiscard]] bool hasToken() const { return !m_token.isEmpty(); }
    [[nodiscard]] ConnectionState state() const;
    [[nodiscard]] QString stateReason() const;
    [[nodiscard]] bool isLive() const;
    // The header's words for the state ("Admin token needed" when none was given).
    [[nodiscard]] QString stateTitle() const;

    // Shown data is stale when the server stopped answering after it had:
    // the window greys it and says when it was last known.
    [[nodiscard]] bool isStale() const { return m_stale; }
    // This machine's time of the last data (invalid before any).
    [[nodiscard]] QDateTime lastUpdate() const { return m_lastUpdate; }

    // Selection: what the user sees selected. A room that closes, or that the
    // filter hides, is unselected rather than replaced by a neighbour.
    bool selectRoom(const QString &roomId); // "" unselects; false when not shown
    [[nodiscard]] QString currentRoomId() const { return m_selectedRoom; }
    bool selectParticipant(const QString &connectionId);
    [[nodiscard]] QString currentConnectionId() const { return m_selectedConnection; }
    void setFilterText(const QString &text);

    [[nodiscard]] bool canCloseRoom() const;
    [[nodiscard]] bool canCloseIdleRooms() const;
    [[nodiscard]] bool canDisconnectParticipant() const;
    [[nodiscard]] bool canEndConsultation(const QString &roomId) const;
    // Start the confirmation of the action on the current selection.
    bool closeSelectedRoom();
    bool disconnectSelectedParticipant();
    bool endSelectedConsultation();
    // From the consultation view: its room.
    bool endConsultation(const QString &roomId);
    bool closeRoom(const QString &roomId);

    // The consultation view: watch `roomId` (the selected room when empty).
    bool openConsultation(const QString &roomId = {});
    void closeConsultation();

    // Alert when a guest has waited longer than this to be admitted (remembered).
    void setWaitingAlertSeconds(qint64 seconds);
    [[nodiscard]] qint64 waitingAlertSeconds() const;

Q_SIGNALS:
    void stateChanged(medrelay::console::ConnectionState state, const QString &reason);
    void retryScheduled(std::chrono::milliseconds delay);
    void serverChanged(const QUrl &server);
    void figuresChanged();
    void historyChanged();
    void staleChanged(bool stale);
    // Data arrived (lastUpdate() moved).
    void updated();
    void roomSelectionChanged(const QString &roomId);
    void participantSelectionChanged(const QString &connectionId);
    // What the actions can act on changed (state, selection).
    void availabilityChanged();
    // Empty text clears the status line.
    void statusMessage(const QString &text, int timeoutMs);
    // The server wants an admin token and none was given: ask for one.
    void tokenRequested(const QUrl &server);

private:
    void attachSource();
    void onStateChanged(ConnectionState state, const QString &reason);
    void onFigures(const ServerFigures &figures);
    void onSample(const ActivitySample &sample);
    void onRoomsReplaced(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    void onRoomUpdated(const adminapi::RoomInfo &room, const QDateTime &serverNow);
    void onRoomRemoved(const QString &roomId, const QDateTime &serverNow);
    void onRoomsUpdated(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    void dataArrived();
    void checkSelection();
    void refreshParticipants();
    void updateStale();
    void evaluateAlerts();
    void rememberChoices();
    void clearData();

    AdminClient *m_client = nullptr;
    ConsoleSettings *m_settings = nullptr;
    DataSource *m_source = nullptr;
    RoomsModel *m_rooms = nullptr;
    RoomFilterModel *m_roomsFilter = nullptr;
    ParticipantsModel *m_participants = nullptr;
    EventLogModel *m_log = nullptr;
    AlertsModel *m_alerts = nullptr;
    AdminActions *m_actions = nullptr;
    Consultation *m_consultation = nullptr;
    WaitingGuestRule *m_waitingRule = nullptr; // one of m_rules
    ActivityHistory m_history;
    std::optional<ServerFigures> m_figures;
    std::vector<std::unique_ptr<AlertRule>> m_rules;

    QUrl m_server;
    QString m_token;
    std::optional<Remember> m_pendingRemember; // applied when the server first answers
    QString m_selectedRoom;
    QString m_selectedConnection;
    QDateTime m_lastUpdate;
    bool m_hasData = false;
    bool m_stale = false;
};

} // namespace medrelay::console
