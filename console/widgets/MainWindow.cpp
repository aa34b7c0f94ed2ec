#include "widgets/MainWindow.h"

#include "controller/Consultation.h"
#include "controller/ConsoleController.h"
#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/Format.h"
#include "widgets/ActivityChart.h"
#include "widgets/AlertBanner.h"
#include "widgets/AlertNotifier.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/ConnectDialog.h"
#include "widgets/ConsultationPanel.h"
#include "widgets/RoomTables.h"
#include "widgets/StatusHeader.h"
#include "widgets/Tables.h"

#include <medrelay/Version.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollBar>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

MainWindow::MainWindow(ConsoleController *controller, QWidget *parent)
    : QMainWindow(parent), m_controller(controller)
{
    setObjectName(u"MainWindow"_s);
    buildActions();
    buildCentral();
    buildDocks();
    buildMenus();
    m_lastUpdate = new QLabel(this);
    statusBar()->addPermanentWidget(m_lastUpdate);
    m_notifier = new AlertNotifier(m_controller->alerts(), this);
    if (ConsoleSettings *settings = m_controller->settings())
        m_notifier->setEnabled(settings->desktopNotifications());

    ConsoleController *c = m_controller;
    connect(c, &ConsoleController::stateChanged, this, &MainWindow::onStateChanged);
    connect(c, &ConsoleController::retryScheduled, m_header, &StatusHeader::setRetryIn);
    connect(c, &ConsoleController::serverChanged, this, [this](const QUrl &server) {
        // Only the server: the platform adds the application's name itself.
        setWindowTitle(server.toDisplayString(QUrl::RemoveUserInfo | QUrl::StripTrailingSlash));
        m_header->setServer(server);
        m_header->clearFigures();
    });
    connect(c, &ConsoleController::figuresChanged, this, [this] {
        if (const auto &f = m_controller->figures())
            m_header->setFigures(*f);
        else
            m_header->clearFigures();
        updateLastUpdate();
    });
    connect(c, &ConsoleController::historyChanged, m_chart, qOverload<>(&QWidget::update));
    connect(c, &ConsoleController::staleChanged, this, &MainWindow::onStale);
    connect(c, &ConsoleController::updated, this, &MainWindow::updateLastUpdate);
    connect(c, &ConsoleController::availabilityChanged, this, &MainWindow::updateActions);
    connect(c, &ConsoleController::statusMessage, this, &MainWindow::showMessage);
    connect(c, &ConsoleController::tokenRequested, this, &MainWindow::askForToken);
    connect(c->actions(), &AdminActions::confirmationRequested, this, &MainWindow::showConfirmation);
    connect(c->actions(), &AdminActions::noticeRequested, this, &MainWindow::showNotice);
    connect(c->consultation(), &Consultation::opened, this, [this] { m_sideTabs->setCurrentWidget(m_consultation); });

    onStateChanged();
    resize(1280, 800);
    roomsView()->setFocus(Qt::OtherFocusReason); // the filter is one Ctrl+F away
}

MainWindow::~MainWindow() = default;

QTableView *MainWindow::roomsView() const
{
    return m_tables->roomsView();
}

QTableView *MainWindow::participantsView() const
{
    return m_tables->participantsView();
}

void MainWindow::buildActions()
{
    QStyle *s = style();
    const auto make = [this](const QIcon &icon, const QString &text, const QKeySequence &key, const QString &tip) {
        auto *action = new QAction(icon, text, this);
        if (!key.isEmpty())
            action->setShortcut(key);
        action->setToolTip(key.isEmpty() ? tip : u"%1 (%2)"_s.arg(tip, key.toString(QKeySequence::NativeText)));
        action->setStatusTip(tip);
        return action;
    };
    m_connectAction = make(s->standardIcon(QStyle::SP_DriveNetIcon), tr("&Connect\u2026"), QKeySequence(u"Ctrl+O"_s),
                           tr("Connect to a server"));
    m_disconnectAction = make(s->standardIcon(QStyle::SP_BrowserStop), tr("&Disconnect"),
                              QKeySequence(u"Ctrl+Shift+D"_s), tr("Stop watching this server"));
    m_refreshAction = make(s->standardIcon(QStyle::SP_BrowserReload), tr("&Refresh now"), QKeySequence::Refresh,
                           tr("Ask the server now (also retries at once when it is unreachable)"));
    m_quitAction = make({}, tr("&Quit"), QKeySequence::Quit, tr("Quit the console"));
    // Delete acts on the table that has the focus: the rooms table closes its
    // selected room, the participants table disconnects its selected person.
    m_closeRoomAction = make(s->standardIcon(QStyle::SP_DialogCloseButton), tr("Close &room\u2026"),
                             QKeySequence(QKeySequence::Delete),
                             tr("Close the selected room and disconnect its participants"));
    m_closeRoomAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_closeIdleAction = make(s->standardIcon(QStyle::SP_TrashIcon), tr("Close &idle rooms\u2026"),
                             QKeySequence(u"Ctrl+I"_s), tr("Close every room idle for longer than a given time"));
    m_disconnectParticipantAction =
        make(s->standardIcon(QStyle::SP_DialogCancelButton), tr("Disconnect &participant\u2026"),
             QKeySequence(QKeySequence::Delete), tr("Disconnect the selected participant"));
    m_disconnectParticipantAction->setShortcuts({QKeySequence(QKeySequence::Delete), QKeySequence(u"Shift+Del"_s)});
    m_disconnectParticipantAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_endConsultationAction = make(s->standardIcon(QStyle::SP_MediaStop), tr("&End consultation\u2026"),
                                   QKeySequence(u"Ctrl+E"_s),
                                   tr("End the selected room's consultation for everyone in it"));
    m_watchConsultationAction = make(s->standardIcon(QStyle::SP_FileDialogContentsView),
                                     tr("&Watch consultation"), {},
                                     tr("Show the selected room's consultation: participants, waiting guests, "
                                        "timeline (also Enter or a double-click on the room)"));
    m_waitingAlertAction = make({}, tr("&Waiting-room alert\u2026"), {},
                                tr("How long a guest may wait to be admitted before the console raises an alert"));
    m_filterAction = make({}, tr("&Filter rooms"), QKeySequence::Find,
                          tr("Type to filter the rooms by room, appointment, user or name"));
    m_clearLogAction = make({}, tr("C&lear event log"), QKeySequence(u"Ctrl+L"_s), tr("Empty the event log view"));
    m_notificationsAction = make({}, tr("Desktop &notifications for alerts"), {},
                                 tr("Announce each new alert in the desktop's notification area"));
    m_notificationsAction->setCheckable(true);
    m_screenshotAction = make({}, tr("Save &screenshot\u2026"), QKeySequence(u"Ctrl+Shift+S"_s),
                              tr("Save a PNG of this window"));
    m_shortcutsAction = make({}, tr("&Keyboard shortcuts"), QKeySequence::HelpContents, tr("List the shortcuts"));
    m_aboutAction = make({}, tr("&About medrelay console"), {}, tr("Version and licence"));
    m_quitAction->setMenuRole(QAction::QuitRole);
    m_aboutAction->setMenuRole(QAction::AboutRole);

    connect(m_connectAction, &QAction::triggered, this, &MainWindow::showConnectDialog);
    connect(m_disconnectAction, &QAction::triggered, m_controller, &ConsoleController::disconnectFromServer);
    connect(m_refreshAction, &QAction::triggered, m_controller, &ConsoleController::refresh);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);
    connect(m_closeRoomAction, &QAction::triggered, this, &MainWindow::closeSelectedRoom);
    connect(m_closeIdleAction, &QAction::triggered, this, &MainWindow::closeIdleRooms);
    connect(m_disconnectParticipantAction, &QAction::triggered, this, &MainWindow::disconnectSelectedParticipant);
    connect(m_endConsultationAction, &QAction::triggered, this, &MainWindow::endSelectedConsultation);
    connect(m_watchConsultationAction, &QAction::triggered, m_controller, [this] { m_controller->openConsultation(); });
    connect(m_waitingAlertAction, &QAction::triggered, this, &MainWindow::askWaitingAlert);
    connect(m_clearLogAction, &QAction::triggered, m_controller->eventLog(), &EventLogModel::clear);
    connect(m_notificationsAction, &QAction::toggled, this, [this](bool on) {
        m_notifier->setEnabled(on);
        if (ConsoleSettings *settings = m_controller->settings())
            settings->setDesktopNotifications(on);
    });
    connect(m_screenshotAction, &QAction::triggered, this, &MainWindow::saveScreenshot);
    connect(m_shortcutsAction, &QAction::triggered, this, &MainWindow::showShortcuts);
    connect(m_aboutAction, &QAction::triggered, this, &MainWindow::showAbout);
}

void MainWindow::buildCentral()
{
    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    m_banner = new AlertBanner(m_controller->alerts(), central);
    layout->addWidget(m_banner);
    m_header = new StatusHeader(central);
    layout->addWidget(m_header);

    auto *columns = new QSplitter(Qt::Horizontal, central);
    columns->setObjectName(u"columnsSplitter"_s);
    columns->setChildrenCollapsible(false);
    m_tables = new RoomTables(m_controller, m_filterAction, columns);
    m_tables->roomsView()->addAction(m_watchConsultationAction);
    m_tables->roomsView()->addAction(m_endConsultationAction);
    m_tables->roomsView()->addAction(m_closeRoomAction);
    m_tables->participantsView()->addAction(m_disconnectParticipantAction);
    addAction(m_filterAction);

    // Beside the tables: the activity chart, and the consultation view of
    // one room (brought to the front when a room is opened).
    m_sideTabs = new QTabWidget(columns);
    m_sideTabs->setObjectName(u"sideTabs"_s);
    m_sideTabs->setDocumentMode(true);
    auto *chartPanel = new QWidget(m_sideTabs);
    auto *chartLayout = new QVBoxLayout(chartPanel);
    chartLayout->setContentsMargins(0, 0, 0, 0);
    chartLayout->addWidget(tables::title(tr("Activity, last 5 minutes"), chartPanel));
    m_chart = new ActivityChart(chartPanel);
    m_chart->setHistory(&m_controller->history());
    chartLayout->addWidget(m_chart, 1);
    m_consultation = new ConsultationPanel(m_controller, m_sideTabs);
    m_sideTabs->addTab(chartPanel, tr("Activity"));
    m_sideTabs->addTab(m_consultation, tr("Consultation"));

    columns->addWidget(m_tables);
    columns->addWidget(m_sideTabs);
    columns->setStretchFactor(0, 3);
    columns->setStretchFactor(1, 2);
    // Tables get the larger share: they carry the detail; the chart reads at any width.
    columns->setSizes({720, 480});
    layout->addWidget(columns, 1);
    setCentralWidget(central);
}

void MainWindow::buildDocks()
{
    setCorner(Qt::BottomRightCorner, Qt::BottomDockWidgetArea);
    setCorner(Qt::BottomLeftCorner, Qt::BottomDockWidgetArea);
    auto *dock = new QDockWidget(tr("Event log"), this);
    dock->setObjectName(u"eventLogDock"_s);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable
                      | QDockWidget::DockWidgetClosable);
    EventLogModel *log = m_controller->eventLog();
    m_logView = tables::make(log, dock);
    m_logView->setObjectName(u"eventLogView"_s);
    m_logView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_logView->setTextElideMode(Qt::ElideRight);
    tables::setColumnWidths(m_logView, {u"00:00:00"_s, u"Admin action"_s, u"cardio-2024-0001-abcdef"_s, u"c0000-abcdefgh"_s,
                                u"100000"_s});
    m_logView->addAction(m_clearLogAction);
    dock->setWidget(m_logView);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {fontMetrics().height() * 11}, Qt::Vertical);

    // Follow new events only while the user is looking at the newest ones.
    connect(log, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        const QScrollBar *bar = m_logView->verticalScrollBar();
        m_logAtBottom = bar->value() >= bar->maximum() - 2;
    });
    connect(log, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_logAtBottom)
            m_logView->scrollToBottom();
    });
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&Server"));
    file->addAction(m_connectAction);
    file->addAction(m_disconnectAction);
    file->addAction(m_refreshAction);
    file->addSeparator();
    file->addAction(m_screenshotAction);
    file->addSeparator();
    file->addAction(m_quitAction);

    QMenu *actions = menuBar()->addMenu(tr("&Actions"));
    actions->addAction(m_watchConsultationAction);
    actions->addSeparator();
    actions->addAction(m_endConsultationAction);
    actions->addAction(m_closeRoomAction);
    actions->addAction(m_closeIdleAction);
    actions->addAction(m_disconnectParticipantAction);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_filterAction);
    view->addAction(m_clearLogAction);
    for (QDockWidget *dock : findChildren<QDockWidget *>())
        view->addAction(dock->toggleViewAction());
    view->addSeparator();
    view->addAction(m_notificationsAction);
    view->addAction(m_waitingAlertAction);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(m_shortcutsAction);
    help->addAction(m_aboutAction);

    QToolBar *bar = addToolBar(tr("Main"));
    bar->setObjectName(u"mainToolBar"_s);
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    bar->setMovable(false);
    bar->addAction(m_connectAction);
    bar->addAction(m_refreshAction);
    bar->addSeparator();
    bar->addAction(m_watchConsultationAction);
    bar->addAction(m_endConsultationAction);
    bar->addAction(m_closeRoomAction);
    bar->addAction(m_closeIdleAction);
    bar->addAction(m_disconnectParticipantAction);
}

void MainWindow::restoreLayout()
{
    ConsoleSettings *settings = m_controller->settings();
    if (!settings)
        return;
    if (const QByteArray g = settings->windowGeometry(); !g.isEmpty())
        restoreGeometry(g);
    if (const QByteArray s = settings->windowState(); !s.isEmpty())
        restoreState(s);
    for (auto *splitter : findChildren<QSplitter *>()) {
        if (const QByteArray s = settings->viewState(splitter->objectName()); !s.isEmpty())
            splitter->restoreState(s);
    }
    for (auto *view : {m_tables->roomsView(), m_tables->participantsView(), m_logView}) {
        if (const QByteArray s = settings->viewState(view->objectName()); !s.isEmpty())
            view->horizontalHeader()->restoreState(s);
    }
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (ConsoleSettings *settings = m_controller->settings()) {
        settings->setWindowGeometry(saveGeometry());
        settings->setWindowState(saveState());
        for (auto *splitter : findChildren<QSplitter *>())
            settings->setViewState(splitter->objectName(), splitter->saveState());
        for (auto *view : {m_tables->roomsView(), m_tables->participantsView(), m_logView})
            settings->setViewState(view->objectName(), view->horizontalHeader()->saveState());
        settings->sync();
    }
    event->accept();
}

ConnectDialog *MainWindow::openConnectDialog()
{
    if (m_connectDialog)
        return m_connectDialog;
    auto *dialog = new ConnectDialog(m_controller->settings(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    if (!m_controller->server().isEmpty())
        dialog->setServer(m_controller->server());
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        m_controller->connectTo(dialog->serverUrl(), dialog->token(),
                                RememberChoices{true, dialog->rememberToken()});
    });
    m_connectDialog = dialog;
    dialog->open();
    return dialog;
}

void MainWindow::showConnectDialog()
{
    if (m_controller->settings())
        openConnectDialog();
}

void MainWindow::askForToken(const QUrl &server)
{
    if (!m_controller->settings())
        return; // unattended: HeadlessRun reports it
    ConnectDialog *dialog = openConnectDialog();
    dialog->setServer(server);
    dialog->setMessage(tr("%1 needs an admin token (its --admin-token). Enter it to connect.")
                           .arg(server.toDisplayString(QUrl::RemoveUserInfo | QUrl::StripTrailingSlash)));
    dialog->focusToken();
}

void MainWindow::updateActions()
{
    const ConnectionState state = m_controller->state();
    m_disconnectAction->setEnabled(state != ConnectionState::Disconnected);
    m_refreshAction->setEnabled(m_controller->canRefresh());
    m_closeRoomAction->setEnabled(m_controller->canCloseRoom());
    m_closeIdleAction->setEnabled(m_controller->canCloseIdleRooms());
    m_disconnectParticipantAction->setEnabled(m_controller->canDisconnectParticipant());
    m_endConsultationAction->setEnabled(m_controller->canEndConsultation(m_controller->currentRoomId()));
    m_watchConsultationAction->setEnabled(!m_controller->currentRoomId().isEmpty());
    m_connectAction->setEnabled(m_controller->settings() != nullptr);
    m_notificationsAction->setEnabled(m_controller->settings() != nullptr && AlertNotifier::isAvailable());
    m_notificationsAction->setChecked(m_notifier && m_notifier->isEnabled());
}

void MainWindow::onStateChanged()
{
    m_header->setState(m_controller->state(), m_controller->stateTitle(), m_controller->stateReason());
    updateActions();
}

void MainWindow::onStale(bool stale)
{
    m_header->setStale(stale, m_controller->lastUpdate());
    m_chart->setStale(stale, m_controller->lastUpdate());
    m_tables->setStale(stale);
    m_consultation->setStale(stale);
    updateLastUpdate();
}

void MainWindow::updateLastUpdate()
{
    const QDateTime last = m_controller->lastUpdate();
    if (!last.isValid()) {
        m_lastUpdate->clear();
        return;
    }
    m_lastUpdate->setText(m_controller->isStale() ? tr("Last known at %1").arg(format::time(last))
                                                  : tr("Updated %1").arg(format::time(last)));
    m_lastUpdate->setForegroundRole(m_controller->isStale() ? QPalette::PlaceholderText : QPalette::WindowText);
}

void MainWindow::closeSelectedRoom()
{
    m_controller->closeSelectedRoom();
}

void MainWindow::disconnectSelectedParticipant()
{
    m_controller->disconnectSelectedParticipant();
}

void MainWindow::endSelectedConsultation()
{
    m_controller->endSelectedConsultation();
}

void MainWindow::askWaitingAlert()
{
    bool ok = false;
    const int minutes = QInputDialog::getInt(
        this, tr("Waiting-room alert"), tr("Raise an alert when a guest has waited longer than (minutes):"),
        static_cast<int>(std::max<qint64>(1, m_controller->waitingAlertSeconds() / 60)), 1, 24 * 60, 1, &ok);
    if (ok)
        m_controller->setWaitingAlertSeconds(static_cast<qint64>(minutes) * 60);
}

void MainWindow::closeIdleRooms()
{
    if (!m_controller->canCloseIdleRooms())
        return;
    auto *dialog = new IdleRoomsDialog(30, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        m_controller->actions()->requestCloseIdleRooms(static_cast<qint64>(dialog->minutes()) * 60, dialog->reason());
    });
    dialog->open();
}

void MainWindow::showConfirmation(const Confirmation &confirmation)
{
    auto *dialog = new ConfirmDialog(confirmation.title, confirmation.message, confirmation.confirmText,
                                     confirmation.defaultReason, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setItems(confirmation.items);
    connect(dialog, &QDialog::accepted, this,
            [this, dialog, confirmation] { m_controller->actions()->confirm(confirmation, dialog->reason()); });
    connect(dialog, &QDialog::rejected, this, [this, confirmation] { m_controller->actions()->cancel(confirmation); });
    dialog->open();
}

void MainWindow::showNotice(const Notice &notice)
{
    auto *box = new QMessageBox(notice.severity == Notice::Severity::Warning ? QMessageBox::Warning
                                                                             : QMessageBox::Information,
                                notice.title, notice.text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::showMessage(const QString &text, int timeoutMs)
{
    if (text.isEmpty())
        statusBar()->clearMessage();
    else
        statusBar()->showMessage(text, timeoutMs);
}

void MainWindow::showShortcuts()
{
    QString rows;
    const auto row = [&rows](const QString &what, const QString &keys) {
        rows += u"<tr><td>%1</td><td>&nbsp;&nbsp;<b>%2</b></td></tr>"_s.arg(what.toHtmlEscaped(), keys.toHtmlEscaped());
    };
    for (QAction *action : {m_connectAction, m_disconnectAction, m_refreshAction, m_endConsultationAction,
                            m_closeIdleAction, m_filterAction, m_clearLogAction, m_screenshotAction,
                            m_shortcutsAction, m_quitAction}) {
        row(action->text().remove(u'&'), action->shortcut().toString(QKeySequence::NativeText));
    }
    const QString del = QKeySequence(QKeySequence::Delete).toString(QKeySequence::NativeText);
    row(tr("Close the selected room (in the rooms table)"), del);
    row(tr("Disconnect the selected participant (in the participants table)"), del);
    row(tr("Watch the room's consultation (in the rooms table)"), tr("Enter, or double-click"));
    row(tr("Leave a table"), tr("Tab"));
    row(tr("Clear the filter (in the filter box)"), tr("Esc"));
    auto *box = new QMessageBox(QMessageBox::NoIcon, tr("Keyboard shortcuts"), u"<table>%1</table>"_s.arg(rows),
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About medrelay console"),
                       tr("<p><b>medrelay console %1</b></p><p>Watches and administers a medrelay server: rooms, "
                          "participants, activity and events.</p><p>Built with Qt %2 (LGPL).</p>")
                           .arg(QString::fromLatin1(MEDRELAY_VERSION), QString::fromLatin1(qVersion())));
}

void MainWindow::saveScreenshot()
{
    const QString file = QFileDialog::getSaveFileName(this, tr("Save screenshot"), u"medrelay-console.png"_s,
                                                      tr("PNG images (*.png)"));
    if (file.isEmpty())
        return;
    const bool ok = grab().save(file, "PNG");
    statusBar()->showMessage(ok ? tr("Saved %1").arg(file) : tr("Could not write %1").arg(file), 8000);
}

} // namespace medrelay::console
