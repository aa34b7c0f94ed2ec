#pragma once
// The console's main window: status header, rooms table (sortable,
// filterable), the selected room's participants, the activity chart and the
// event log, plus the admin actions with their confirmations. It only reacts
// to AdminClient signals and calls its actions; it never waits on the network.

#include "adminapi/AdminTypes.h"
#include "core/ActivityHistory.h"
#include "core/AdminClient.h"

#include <QMainWindow>
#include <QUrl>

class QAction;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace medrelay::console {

class ActivityChart;
class ConsoleSettings;
class EventLogModel;
class ParticipantsModel;
class RoomsModel;
class StatusHeader;

class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    // Neither is owned; both must outlive the window. `settings` may be null
    // (headless runs): nothing is then restored or saved.
    MainWindow(AdminClient *client, ConsoleSettings *settings, QWidget *parent = nullptr);
    ~MainWindow() override;

    void connectTo(const QUrl &server, const QString &token);
    void restoreLayout();

    [[nodiscard]] RoomsModel *roomsModel() const { return m_rooms; }
    [[nodiscard]] QSortFilterProxyModel *roomsProxy() const { return m_roomsProxy; }
    [[nodiscard]] ParticipantsModel *participantsModel() const { return m_participants; }
    [[nodiscard]] EventLogModel *eventLog() const { return m_log; }
    [[nodiscard]] const ActivityHistory &history() const { return m_history; }
    [[nodiscard]] QTableView *roomsView() const { return m_roomsView; }
    [[nodiscard]] QTableView *participantsView() const { return m_participantsView; }

    // The room whose participants are shown ("" when none).
    [[nodiscard]] QString currentRoomId() const;
    bool selectRoom(const QString &roomId);

public Q_SLOTS:
    void showConnectDialog();
    void closeSelectedRoom();
    void closeIdleRooms();
    void disconnectSelectedParticipant();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildActions();
    void buildMenus();
    void buildCentral();
    void buildDocks();
    void updateActions();
    void onStateChanged(AdminClient::State state, const QString &reason);
    void onHealth(const adminapi::Health &health);
    void onStats(const adminapi::Stats &stats);
    void onEvents(const QList<adminapi::Event> &events);
    void onActionFinished(AdminClient::Action action, const adminapi::ActionResult &result);
    void confirmIdleClose(const adminapi::ActionResult &dryRun);
    void refreshParticipants();
    void showShortcuts();
    void showAbout();
    void saveScreenshot();
    [[nodiscard]] QString currentConnectionId() const;

    AdminClient *m_client = nullptr;
    ConsoleSettings *m_settings = nullptr;
    RoomsModel *m_rooms = nullptr;
    QSortFilterProxyModel *m_roomsProxy = nullptr;
    ParticipantsModel *m_participants = nullptr;
    QSortFilterProxyModel *m_participantsProxy = nullptr;
    EventLogModel *m_log = nullptr;
    ActivityHistory m_history;

    StatusHeader *m_header = nullptr;
    QLineEdit *m_filter = nullptr;
    QTableView *m_roomsView = nullptr;
    QTableView *m_participantsView = nullptr;
    QTableView *m_logView = nullptr;
    QLabel *m_participantsTitle = nullptr;
    QLabel *m_lastUpdate = nullptr;
    ActivityChart *m_chart = nullptr;

    QAction *m_connectAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_refreshAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_closeRoomAction = nullptr;
    QAction *m_closeIdleAction = nullptr;
    QAction *m_disconnectParticipantAction = nullptr;
    QAction *m_filterAction = nullptr;
    QAction *m_clearLogAction = nullptr;
    QAction *m_screenshotAction = nullptr;
    QAction *m_shortcutsAction = nullptr;
    QAction *m_aboutAction = nullptr;

    QString m_selectedRoom;          // survives the row moving or vanishing for a moment
    QString m_pendingIdleReason;     // between the dry run and the confirmation
    qint64 m_pendingIdleSeconds = 0;
    bool m_logAtBottom = true;
};

} // namespace medrelay::console
