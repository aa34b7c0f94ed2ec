#pragma once
// The console's main window: alert banner, status header, rooms table
// (sortable, filterable), the selected room's participants, the activity
// chart and the consultation view (tabs beside the tables), and the event
// log. It lays out what ConsoleController knows and turns
// the user's keys, clicks and dialog answers into the controller's calls; the
// behaviour (selection, actions and their confirmations, staleness, alerts,
// what is remembered) lives in the controller.

#include <QMainWindow>
#include <QPointer>
#include <QUrl>

class QAction;
class QLabel;
class QTableView;
class QTabWidget;

namespace medrelay::console {

class ActivityChart;
class AlertBanner;
class AlertNotifier;
class ConnectDialog;
class ConsoleController;
class ConsultationPanel;
class RoomTables;
class StatusHeader;
struct Confirmation;
struct Notice;

class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    // Not owned; must outlive the window. Without settings (unattended runs)
    // nothing is restored or saved and there is no Connect dialog.
    explicit MainWindow(ConsoleController *controller, QWidget *parent = nullptr);
    ~MainWindow() override;

    void restoreLayout();

    [[nodiscard]] ConsoleController *controller() const { return m_controller; }
    [[nodiscard]] RoomTables *tables() const { return m_tables; }
    [[nodiscard]] QTableView *roomsView() const;
    [[nodiscard]] QTableView *participantsView() const;
    [[nodiscard]] StatusHeader *header() const { return m_header; }
    [[nodiscard]] ActivityChart *chart() const { return m_chart; }
    [[nodiscard]] AlertBanner *alertBanner() const { return m_banner; }
    [[nodiscard]] ConsultationPanel *consultationPanel() const { return m_consultation; }
    [[nodiscard]] QTabWidget *sideTabs() const { return m_sideTabs; }
    [[nodiscard]] QAction *closeRoomAction() const { return m_closeRoomAction; }
    [[nodiscard]] QAction *endConsultationAction() const { return m_endConsultationAction; }
    [[nodiscard]] QAction *watchConsultationAction() const { return m_watchConsultationAction; }
    [[nodiscard]] QAction *disconnectParticipantAction() const { return m_disconnectParticipantAction; }
    [[nodiscard]] QAction *refreshAction() const { return m_refreshAction; }

public Q_SLOTS:
    void showConnectDialog();
    // The server wants a token: the Connect dialog, with the cursor in the token field.
    void askForToken(const QUrl &server);
    void closeSelectedRoom();
    void closeIdleRooms();
    void disconnectSelectedParticipant();
    void endSelectedConsultation();
    void askWaitingAlert();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    ConnectDialog *openConnectDialog();
    void buildActions();
    void buildMenus();
    void buildCentral();
    void buildDocks();
    void updateActions();
    void onStateChanged();
    void onStale(bool stale);
    void showConfirmation(const Confirmation &confirmation);
    void showNotice(const Notice &notice);
    void showMessage(const QString &text, int timeoutMs);
    void updateLastUpdate();
    void showShortcuts();
    void showAbout();
    void saveScreenshot();

    ConsoleController *m_controller = nullptr;

    AlertBanner *m_banner = nullptr;
    AlertNotifier *m_notifier = nullptr;
    StatusHeader *m_header = nullptr;
    RoomTables *m_tables = nullptr;
    QTableView *m_logView = nullptr;
    QLabel *m_lastUpdate = nullptr;
    ActivityChart *m_chart = nullptr;
    QTabWidget *m_sideTabs = nullptr;
    ConsultationPanel *m_consultation = nullptr;

    QAction *m_connectAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_refreshAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_closeRoomAction = nullptr;
    QAction *m_closeIdleAction = nullptr;
    QAction *m_disconnectParticipantAction = nullptr;
    QAction *m_endConsultationAction = nullptr;
    QAction *m_watchConsultationAction = nullptr;
    QAction *m_waitingAlertAction = nullptr;
    QAction *m_filterAction = nullptr;
    QAction *m_clearLogAction = nullptr;
    QAction *m_notificationsAction = nullptr;
    QAction *m_screenshotAction = nullptr;
    QAction *m_shortcutsAction = nullptr;
    QAction *m_aboutAction = nullptr;

    QPointer<ConnectDialog> m_connectDialog;
    bool m_logAtBottom = true;
};

} // namespace medrelay::console
