#include "widgets/MainWindow.h"

#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/Format.h"
#include "core/ParticipantsModel.h"
#include "core/RoomsModel.h"
#include "widgets/ActivityChart.h"
#include "widgets/ConfirmDialog.h"
#include "widgets/ConnectDialog.h"
#include "widgets/StatusHeader.h"

#include <medrelay/Version.h>

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

// In single-selection mode a QTableView whose current row is removed selects
// the neighbouring row. For rooms and participants that would silently turn
// "the room I picked" into another one, so a removed row leaves nothing selected.
class StableTableView final : public QTableView
{
public:
    using QTableView::QTableView;

protected:
    void rowsAboutToBeRemoved(const QModelIndex &parent, int start, int end) override
    {
        const QModelIndex current = currentIndex();
        if (current.isValid() && current.parent() == parent && current.row() >= start && current.row() <= end)
            selectionModel()->clear();
        QTableView::rowsAboutToBeRemoved(parent, start, end);
    }
};

QTableView *makeTable(QAbstractItemModel *model, QWidget *parent)
{
    auto *view = new StableTableView(parent);
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setTextElideMode(Qt::ElideMiddle);
    view->verticalHeader()->setVisible(false);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + view->fontMetrics().height() / 2);
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setHighlightSections(false);
    view->setContextMenuPolicy(Qt::ActionsContextMenu);
    return view;
}

QLabel *makeTitle(const QString &text, QWidget *parent)
{
    auto *label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    return label;
}

// Initial widths from typical contents and the header text, so nothing is
// elided at the default size whatever the font and scale.
void setColumnWidths(QTableView *view, const QStringList &samples)
{
    const QFontMetrics fm = view->fontMetrics();
    QFont headerFont = view->horizontalHeader()->font();
    headerFont.setBold(true);
    const QFontMetrics hfm(headerFont);
    const int padding = fm.averageCharWidth() * 3;
    const int sortIndicator = fm.height();
    for (int i = 0; i < samples.size(); ++i) {
        const QString header = view->model()->headerData(i, Qt::Horizontal).toString();
        const int width = std::max(fm.horizontalAdvance(samples.at(i)), hfm.horizontalAdvance(header) + sortIndicator);
        view->setColumnWidth(i, width + padding);
    }
}

} // namespace

MainWindow::MainWindow(AdminClient *client, ConsoleSettings *settings, QWidget *parent)
    : QMainWindow(parent), m_client(client), m_settings(settings)
{
    setObjectName(u"MainWindow"_s);
    setWindowTitle(tr("medrelay console"));
    m_rooms = new RoomsModel(this);
    m_roomsProxy = new QSortFilterProxyModel(this);
    m_roomsProxy->setSourceModel(m_rooms);
    m_roomsProxy->setSortRole(RoomsModel::SortRole);
    m_roomsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_roomsProxy->setFilterKeyColumn(-1);
    m_roomsProxy->setDynamicSortFilter(true);
    m_participants = new ParticipantsModel(this);
    m_participantsProxy = new QSortFilterProxyModel(this);
    m_participantsProxy->setSourceModel(m_participants);
    m_participantsProxy->setSortRole(ParticipantsModel::SortRole);
    m_participantsProxy->setDynamicSortFilter(true);
    m_log = new EventLogModel(this);

    buildActions();
    buildCentral();
    buildDocks();
    buildMenus();
    m_lastUpdate = new QLabel(this);
    statusBar()->addPermanentWidget(m_lastUpdate);

    connect(m_client, &AdminClient::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_client, &AdminClient::healthUpdated, this, &MainWindow::onHealth);
    connect(m_client, &AdminClient::statsUpdated, this, &MainWindow::onStats);
    connect(m_client, &AdminClient::eventsReceived, this, &MainWindow::onEvents);
    connect(m_client, &AdminClient::actionFinished, this, &MainWindow::onActionFinished);
    connect(m_client, &AdminClient::retryScheduled, m_header, &StatusHeader::setRetryIn);
    connect(m_client, &AdminClient::serverRestarted, this, [this] {
        m_log->addConsoleEntry(u"connection"_s, tr("The server restarted"), LogEntry::Severity::Warning);
    });
    onStateChanged(m_client->state(), m_client->stateReason());
    resize(1280, 800);
}

MainWindow::~MainWindow() = default;

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
                           tr("Poll the server now (also retries at once when it is unreachable)"));
    m_quitAction = make({}, tr("&Quit"), QKeySequence::Quit, tr("Quit the console"));
    m_closeRoomAction = make(s->standardIcon(QStyle::SP_DialogCloseButton), tr("Close &room\u2026"),
                             QKeySequence(Qt::Key_Delete), tr("Close the selected room and disconnect its participants"));
    m_closeIdleAction = make(s->standardIcon(QStyle::SP_TrashIcon), tr("Close &idle rooms\u2026"),
                             QKeySequence(u"Ctrl+I"_s), tr("Close every room idle for longer than a given time"));
    m_disconnectParticipantAction =
        make(s->standardIcon(QStyle::SP_DialogCancelButton), tr("Disconnect &participant\u2026"),
             QKeySequence(u"Shift+Del"_s), tr("Disconnect the selected participant"));
    m_filterAction = make({}, tr("&Filter rooms"), QKeySequence::Find, tr("Type to filter the rooms table"));
    m_clearLogAction = make({}, tr("C&lear event log"), QKeySequence(u"Ctrl+L"_s), tr("Empty the event log view"));
    m_screenshotAction = make({}, tr("Save &screenshot\u2026"), QKeySequence(u"Ctrl+Shift+S"_s),
                              tr("Save a PNG of this window"));
    m_shortcutsAction = make({}, tr("&Keyboard shortcuts"), QKeySequence::HelpContents, tr("List the shortcuts"));
    m_aboutAction = make({}, tr("&About medrelay console"), {}, tr("Version and licence"));
    m_quitAction->setMenuRole(QAction::QuitRole);
    m_aboutAction->setMenuRole(QAction::AboutRole);

    connect(m_connectAction, &QAction::triggered, this, &MainWindow::showConnectDialog);
    connect(m_disconnectAction, &QAction::triggered, this, [this] { m_client->stop(); });
    connect(m_refreshAction, &QAction::triggered, this, [this] {
        if (m_client->state() == AdminClient::State::Disconnected)
            m_client->start();
        else
            m_client->refreshNow();
    });
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);
    connect(m_closeRoomAction, &QAction::triggered, this, &MainWindow::closeSelectedRoom);
    connect(m_closeIdleAction, &QAction::triggered, this, &MainWindow::closeIdleRooms);
    connect(m_disconnectParticipantAction, &QAction::triggered, this, &MainWindow::disconnectSelectedParticipant);
    connect(m_clearLogAction, &QAction::triggered, this, [this] { m_log->clear(); });
    connect(m_screenshotAction, &QAction::triggered, this, &MainWindow::saveScreenshot);
    connect(m_shortcutsAction, &QAction::triggered, this, &MainWindow::showShortcuts);
    connect(m_aboutAction, &QAction::triggered, this, &MainWindow::showAbout);
}

void MainWindow::buildCentral()
{
    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    m_header = new StatusHeader(central);
    layout->addWidget(m_header);

    auto *columns = new QSplitter(Qt::Horizontal, central);
    columns->setObjectName(u"columnsSplitter"_s);
    columns->setChildrenCollapsible(false);
    auto *tables = new QSplitter(Qt::Vertical, columns);
    tables->setObjectName(u"tablesSplitter"_s);
    tables->setChildrenCollapsible(false);

    // Rooms.
    auto *roomsPanel = new QWidget(tables);
    auto *roomsLayout = new QVBoxLayout(roomsPanel);
    roomsLayout->setContentsMargins(0, 0, 0, 0);
    auto *roomsBar = new QHBoxLayout;
    roomsBar->addWidget(makeTitle(tr("Rooms"), roomsPanel));
    roomsBar->addStretch();
    m_filter = new QLineEdit(roomsPanel);
    m_filter->setPlaceholderText(tr("Filter rooms (%1)").arg(m_filterAction->shortcut().toString(QKeySequence::NativeText)));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMinimumWidth(m_filter->fontMetrics().averageCharWidth() * 28);
    roomsBar->addWidget(m_filter);
    roomsLayout->addLayout(roomsBar);
    m_roomsView = makeTable(m_roomsProxy, roomsPanel);
    m_roomsView->setObjectName(u"roomsView"_s);
    m_roomsView->setSortingEnabled(true);
    m_roomsView->sortByColumn(RoomsModel::RoomIdColumn, Qt::AscendingOrder);
    setColumnWidths(m_roomsView, {u"cardio-2024-0001-abcdef"_s, u"123456"_s, u"12"_s, u"59 min 59 s"_s});
    roomsLayout->addWidget(m_roomsView);
    connect(m_filter, &QLineEdit::textChanged, m_roomsProxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_filterAction, &QAction::triggered, m_filter, [this] {
        m_filter->setFocus(Qt::ShortcutFocusReason);
        m_filter->selectAll();
    });
    addAction(m_filterAction);

    auto *copyRoom = new QAction(tr("Copy room id"), m_roomsView);
    connect(copyRoom, &QAction::triggered, this, [this] {
        if (const QString id = currentRoomId(); !id.isEmpty())
            QApplication::clipboard()->setText(id);
    });
    m_roomsView->addAction(m_closeRoomAction);
    m_roomsView->addAction(copyRoom);

    // Participants.
    auto *peoplePanel = new QWidget(tables);
    auto *peopleLayout = new QVBoxLayout(peoplePanel);
    peopleLayout->setContentsMargins(0, 0, 0, 0);
    m_participantsTitle = makeTitle(tr("Participants"), peoplePanel);
    peopleLayout->addWidget(m_participantsTitle);
    m_participantsView = makeTable(m_participantsProxy, peoplePanel);
    m_participantsView->setObjectName(u"participantsView"_s);
    m_participantsView->setSortingEnabled(true);
    m_participantsView->sortByColumn(ParticipantsModel::JoinedColumn, Qt::AscendingOrder);
    setColumnWidths(m_participantsView, {u"100000"_s, u"Dr. Firstname Lastname"_s, u"interpreter"_s, u"00:00:00"_s,
                                         u"00:00:00"_s, u"255.255.255.255"_s});
    auto *copyConnection = new QAction(tr("Copy connection id"), m_participantsView);
    connect(copyConnection, &QAction::triggered, this, [this] {
        if (const QString id = currentConnectionId(); !id.isEmpty())
            QApplication::clipboard()->setText(id);
    });
    m_participantsView->addAction(m_disconnectParticipantAction);
    m_participantsView->addAction(copyConnection);
    peopleLayout->addWidget(m_participantsView);

    tables->addWidget(roomsPanel);
    tables->addWidget(peoplePanel);
    tables->setStretchFactor(0, 3);
    tables->setStretchFactor(1, 2);
    tables->setSizes({300, 200});

    // Activity.
    auto *chartPanel = new QWidget(columns);
    auto *chartLayout = new QVBoxLayout(chartPanel);
    chartLayout->setContentsMargins(0, 0, 0, 0);
    chartLayout->addWidget(makeTitle(tr("Activity, last 5 minutes"), chartPanel));
    m_chart = new ActivityChart(chartPanel);
    m_chart->setHistory(&m_history);
    chartLayout->addWidget(m_chart, 1);

    columns->addWidget(tables);
    columns->addWidget(chartPanel);
    columns->setStretchFactor(0, 3);
    columns->setStretchFactor(1, 2);
    // Tables get the larger share: they carry the detail; the chart reads at any width.
    columns->setSizes({720, 480});
    layout->addWidget(columns, 1);
    setCentralWidget(central);

    // The selected room is what is *selected*, not the view's current index:
    // when the selected room goes away (closed, or filtered out) the view moves
    // its current index to a neighbour but leaves nothing selected, and an
    // administrator pressing Delete must never hit a room they did not pick.
    const auto roomSelection = [this] {
        const QModelIndexList rows = m_roomsView->selectionModel()->selectedRows();
        const QString id = rows.isEmpty() ? QString() : rows.constFirst().data(RoomsModel::RoomIdRole).toString();
        if (id == m_selectedRoom && m_participants->roomId() == id)
            return;
        m_selectedRoom = id;
        refreshParticipants();
        updateActions();
    };
    connect(m_roomsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, roomSelection);
    connect(m_roomsProxy, &QAbstractItemModel::rowsRemoved, this, roomSelection);
    connect(m_roomsProxy, &QAbstractItemModel::modelReset, this, roomSelection);
    connect(m_participantsView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::updateActions);
    connect(m_participantsProxy, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateActions);
    connect(m_roomsView, &QTableView::doubleClicked, this, [this] { m_participantsView->setFocus(); });
}

void MainWindow::buildDocks()
{
    setCorner(Qt::BottomRightCorner, Qt::BottomDockWidgetArea);
    setCorner(Qt::BottomLeftCorner, Qt::BottomDockWidgetArea);
    auto *dock = new QDockWidget(tr("Event log"), this);
    dock->setObjectName(u"eventLogDock"_s);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable
                      | QDockWidget::DockWidgetClosable);
    m_logView = makeTable(m_log, dock);
    m_logView->setObjectName(u"eventLogView"_s);
    m_logView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_logView->setTextElideMode(Qt::ElideRight);
    setColumnWidths(m_logView, {u"00:00:00"_s, u"Admin action"_s, u"cardio-2024-0001-abcdef"_s, u"c0000-abcdefgh"_s,
                                u"100000"_s});
    m_logView->addAction(m_clearLogAction);
    dock->setWidget(m_logView);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {fontMetrics().height() * 11}, Qt::Vertical);

    // Follow new events only while the user is looking at the newest ones.
    connect(m_log, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        const QScrollBar *bar = m_logView->verticalScrollBar();
        m_logAtBottom = bar->value() >= bar->maximum() - 2;
    });
    connect(m_log, &QAbstractItemModel::rowsInserted, this, [this] {
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
    actions->addAction(m_closeRoomAction);
    actions->addAction(m_closeIdleAction);
    actions->addAction(m_disconnectParticipantAction);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_filterAction);
    view->addAction(m_clearLogAction);
    for (QDockWidget *dock : findChildren<QDockWidget *>())
        view->addAction(dock->toggleViewAction());

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
    bar->addAction(m_closeRoomAction);
    bar->addAction(m_closeIdleAction);
    bar->addAction(m_disconnectParticipantAction);
}

void MainWindow::restoreLayout()
{
    if (!m_settings)
        return;
    if (const QByteArray g = m_settings->windowGeometry(); !g.isEmpty())
        restoreGeometry(g);
    if (const QByteArray s = m_settings->windowState(); !s.isEmpty())
        restoreState(s);
    for (auto *splitter : findChildren<QSplitter *>()) {
        if (const QByteArray s = m_settings->viewState(splitter->objectName()); !s.isEmpty())
            splitter->restoreState(s);
    }
    for (auto *view : {m_roomsView, m_participantsView, m_logView}) {
        if (const QByteArray s = m_settings->viewState(view->objectName()); !s.isEmpty())
            view->horizontalHeader()->restoreState(s);
    }
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (m_settings) {
        m_settings->setWindowGeometry(saveGeometry());
        m_settings->setWindowState(saveState());
        for (auto *splitter : findChildren<QSplitter *>())
            m_settings->setViewState(splitter->objectName(), splitter->saveState());
        for (auto *view : {m_roomsView, m_participantsView, m_logView})
            m_settings->setViewState(view->objectName(), view->horizontalHeader()->saveState());
        m_settings->sync();
    }
    event->accept();
}

void MainWindow::connectTo(const QUrl &server, const QString &token)
{
    m_rooms->clear();
    m_participants->clear();
    m_history.clear();
    m_chart->update();
    m_header->clearFigures();
    m_header->setServer(server);
    setWindowTitle(tr("medrelay console \u2014 %1").arg(server.toDisplayString(QUrl::RemoveUserInfo | QUrl::StripTrailingSlash)));
    m_client->setServer(server, token);
    m_client->start();
}

void MainWindow::showConnectDialog()
{
    if (!m_settings)
        return;
    auto *dialog = new ConnectDialog(m_settings, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    if (!m_client->serverUrl().isEmpty())
        dialog->setServer(m_client->serverUrl());
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        dialog->saveChoices();
        connectTo(dialog->serverUrl(), dialog->token());
    });
    dialog->open();
}

void MainWindow::updateActions()
{
    const bool live = m_client->isLive();
    const AdminClient::State state = m_client->state();
    m_disconnectAction->setEnabled(state != AdminClient::State::Disconnected);
    m_refreshAction->setEnabled(!m_client->serverUrl().isEmpty() && state != AdminClient::State::Unauthorised);
    m_closeRoomAction->setEnabled(live && !currentRoomId().isEmpty());
    m_closeIdleAction->setEnabled(live);
    m_disconnectParticipantAction->setEnabled(live && !currentConnectionId().isEmpty());
    m_connectAction->setEnabled(m_settings != nullptr);
}

void MainWindow::onStateChanged(AdminClient::State state, const QString &reason)
{
    m_header->setState(state, reason);
    const QString server = m_client->serverUrl().toDisplayString(QUrl::RemoveUserInfo);
    QString text;
    LogEntry::Severity severity = LogEntry::Severity::Info;
    switch (state) {
    case AdminClient::State::Disconnected:
        text = server.isEmpty() ? tr("Not connected. Use Server \u2192 Connect (%1).")
                                      .arg(m_connectAction->shortcut().toString(QKeySequence::NativeText))
                                : tr("Disconnected from %1").arg(server);
        break;
    case AdminClient::State::Connecting: text = tr("Connecting to %1\u2026").arg(server); break;
    case AdminClient::State::Connected: text = tr("Connected to %1").arg(server); break;
    case AdminClient::State::Draining:
        text = tr("%1 is draining: it is shutting down and accepts no new consultations").arg(server);
        severity = LogEntry::Severity::Warning;
        break;
    case AdminClient::State::Unauthorised:
        text = tr("%1 refused the admin token: %2. Connect again (%3) with the right token.")
                   .arg(server, reason, m_connectAction->shortcut().toString(QKeySequence::NativeText));
        severity = LogEntry::Severity::Error;
        break;
    case AdminClient::State::Unreachable:
        text = tr("%1 is unreachable: %2. Retrying by itself.").arg(server, reason);
        severity = LogEntry::Severity::Error;
        break;
    }
    statusBar()->showMessage(text);
    if (!server.isEmpty())
        m_log->addConsoleEntry(u"connection"_s, text, severity);
    if (state == AdminClient::State::Disconnected) {
        m_rooms->clear();
        m_participants->clear();
        m_header->clearFigures();
    }
    updateActions();
}

void MainWindow::onHealth(const adminapi::Health &health)
{
    m_header->setHealth(health);
}

void MainWindow::onStats(const adminapi::Stats &stats)
{
    m_rooms->update(stats.rooms, stats.timestamp);
    refreshParticipants();
    ActivitySample sample;
    sample.time = stats.timestamp.isValid() ? stats.timestamp : QDateTime::currentDateTimeUtc();
    sample.messagesInPerSecond = stats.perSecond.messagesIn;
    sample.messagesOutPerSecond = stats.perSecond.messagesOut;
    sample.connections = stats.connections;
    sample.rooms = static_cast<int>(stats.rooms.size());
    m_history.append(sample);
    m_chart->update();
    m_header->setStats(stats);
    m_lastUpdate->setText(tr("Updated %1").arg(format::time(QDateTime::currentDateTime())));
    updateActions();
}

void MainWindow::onEvents(const QList<adminapi::Event> &events)
{
    m_log->addServerEvents(events);
}

QString MainWindow::currentRoomId() const
{
    return m_rooms->room(m_selectedRoom) ? m_selectedRoom : QString();
}

QString MainWindow::currentConnectionId() const
{
    const QModelIndexList rows = m_participantsView->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.constFirst().data(ParticipantsModel::ConnectionIdRole).toString();
}

bool MainWindow::selectRoom(const QString &roomId)
{
    const int row = m_rooms->rowOf(roomId);
    if (row < 0)
        return false;
    const QModelIndex index = m_roomsProxy->mapFromSource(m_rooms->index(row, 0));
    if (!index.isValid())
        return false;
    m_roomsView->selectionModel()->setCurrentIndex(
        index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_roomsView->scrollTo(index);
    return true;
}

void MainWindow::refreshParticipants()
{
    const adminapi::RoomInfo *room = m_rooms->room(m_selectedRoom);
    if (!room) {
        m_participants->clear();
        m_participantsTitle->setText(tr("Participants (select a room)"));
        return;
    }
    m_participants->setRoom(room->id, room->participants);
    m_participantsTitle->setText(tr("Participants in room %1, appointment %2").arg(room->id).arg(room->appointmentId));
}

void MainWindow::closeSelectedRoom()
{
    const QString roomId = currentRoomId();
    const adminapi::RoomInfo *room = m_rooms->room(roomId);
    if (!room || !m_client->isLive())
        return;
    auto *dialog = new ConfirmDialog(
        tr("Close room"),
        tr("Close room %1 (appointment %2)? Its %n participant(s) are told the consultation is closed and "
           "removed from the room.",
           nullptr, room->connectionCount)
            .arg(room->id)
            .arg(room->appointmentId),
        tr("Close room"), tr("Closed by the clinic's administrator"), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog, roomId] {
        m_log->addConsoleEntry(u"action"_s, tr("Closing room %1: %2").arg(roomId, dialog->reason()),
                               LogEntry::Severity::Info, roomId);
        m_client->closeRoom(roomId, dialog->reason());
    });
    dialog->open();
}

void MainWindow::closeIdleRooms()
{
    if (!m_client->isLive())
        return;
    auto *dialog = new IdleRoomsDialog(30, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        m_pendingIdleSeconds = static_cast<qint64>(dialog->minutes()) * 60;
        m_pendingIdleReason = dialog->reason();
        statusBar()->showMessage(tr("Asking the server how many rooms are idle\u2026"));
        m_client->closeIdleRooms(m_pendingIdleSeconds, m_pendingIdleReason, true);
    });
    dialog->open();
}

void MainWindow::confirmIdleClose(const adminapi::ActionResult &dryRun)
{
    const QString idleFor = format::duration(m_pendingIdleSeconds);
    if (dryRun.rooms.isEmpty()) {
        const QString text = tr("No room has been idle for more than %1.").arg(idleFor);
        m_log->addConsoleEntry(u"action"_s, text);
        statusBar()->showMessage(text, 8000);
        auto *box = new QMessageBox(QMessageBox::Information, tr("Close idle rooms"), text, QMessageBox::Ok, this);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
        return;
    }
    QStringList shown = dryRun.rooms.mid(0, 12);
    if (dryRun.rooms.size() > shown.size())
        shown.append(tr("and %n more", nullptr, static_cast<int>(dryRun.rooms.size() - shown.size())));
    auto *dialog = new ConfirmDialog(
        tr("Close idle rooms"),
        tr("%n room(s) have been idle for more than %1: %2.\nClose them? Their participants are told and removed.",
           nullptr,
           static_cast<int>(dryRun.rooms.size()))
            .arg(idleFor, shown.join(u", "_s)),
        tr("Close %n room(s)", nullptr, static_cast<int>(dryRun.rooms.size())), m_pendingIdleReason, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    const qint64 seconds = m_pendingIdleSeconds;
    connect(dialog, &QDialog::accepted, this, [this, dialog, seconds] {
        m_log->addConsoleEntry(u"action"_s,
                               tr("Closing rooms idle for more than %1: %2").arg(format::duration(seconds), dialog->reason()));
        m_client->closeIdleRooms(seconds, dialog->reason(), false);
    });
    dialog->open();
}

void MainWindow::disconnectSelectedParticipant()
{
    const QString connectionId = currentConnectionId();
    const adminapi::ParticipantInfo *p = m_participants->participant(connectionId);
    if (!p || !m_client->isLive())
        return;
    const QString who = p->userName.isEmpty() ? tr("user %1").arg(p->userId)
                                              : tr("user %1 (%2)").arg(p->userId, p->userName);
    auto *dialog = new ConfirmDialog(
        tr("Disconnect participant"),
        tr("Disconnect %1 from room %2? Their connection %3 is closed; they may join again.")
            .arg(who, m_participants->roomId(), connectionId),
        tr("Disconnect"), tr("Disconnected by the clinic's administrator"), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    const QString roomId = m_participants->roomId();
    connect(dialog, &QDialog::accepted, this, [this, dialog, connectionId, roomId] {
        m_log->addConsoleEntry(u"action"_s, tr("Disconnecting %1: %2").arg(connectionId, dialog->reason()),
                               LogEntry::Severity::Info, roomId, connectionId);
        m_client->disconnectConnection(connectionId, dialog->reason());
    });
    dialog->open();
}

void MainWindow::onActionFinished(AdminClient::Action action, const adminapi::ActionResult &result)
{
    if (action == AdminClient::Action::CloseIdleRoomsDryRun && result.ok) {
        confirmIdleClose(result);
        return;
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
        }
        if (!result.message.isEmpty())
            text += u" ("_s + result.message + u')';
    } else {
        text = tr("%1 failed: %2").arg(AdminClient::actionName(action), result.message);
    }
    m_log->addConsoleEntry(u"action"_s, text, result.ok ? LogEntry::Severity::Info : LogEntry::Severity::Error,
                           result.rooms.size() == 1 ? result.rooms.constFirst() : QString(),
                           result.connections.size() == 1 ? result.connections.constFirst() : QString());
    statusBar()->showMessage(text, 10'000);
    if (!result.ok) {
        auto *box = new QMessageBox(QMessageBox::Warning, AdminClient::actionName(action), text, QMessageBox::Ok, this);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    }
}

void MainWindow::showShortcuts()
{
    QString rows;
    for (QAction *action : {m_connectAction, m_disconnectAction, m_refreshAction, m_closeRoomAction, m_closeIdleAction,
                            m_disconnectParticipantAction, m_filterAction, m_clearLogAction, m_screenshotAction,
                            m_shortcutsAction, m_quitAction}) {
        rows += u"<tr><td>%1</td><td>&nbsp;&nbsp;<b>%2</b></td></tr>"_s.arg(
            action->text().remove(u'&').toHtmlEscaped(),
            action->shortcut().toString(QKeySequence::NativeText).toHtmlEscaped());
    }
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
