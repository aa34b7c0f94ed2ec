#include "controller/ConsoleController.h"

#include "controller/Consultation.h"
#include "controller/DataSource.h"
#include "controller/FallbackSource.h"
#include "core/AdminClient.h"
#include "core/AlertsModel.h"
#include "core/ConsoleSettings.h"
#include "core/EventLogModel.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

ConsoleController::ConsoleController(AdminClient *client, ConsoleSettings *settings, QObject *parent)
    : QObject(parent), m_client(client), m_settings(settings)
{
    m_rooms = new RoomsModel(this);
    m_roomsFilter = new RoomFilterModel(m_rooms, this);
    m_participants = new ParticipantsModel(this);
    m_log = new EventLogModel(this);
    m_alerts = new AlertsModel(this);
    m_actions = new AdminActions(m_client, m_rooms, m_participants, m_log, [this] { return isLive(); }, this);
    connect(m_actions, &AdminActions::statusMessage, this, &ConsoleController::statusMessage);
    connect(m_actions, &AdminActions::finished, this, [this] {
        if (m_source)
            m_source->refreshNow(); // show the effect without waiting for the next poll
    });
    m_consultation = new Consultation(m_client, this);
    m_rules = standardAlertRules();
    for (const auto &rule : m_rules) {
        if (auto *waiting = dynamic_cast<WaitingGuestRule *>(rule.get()))
            m_waitingRule = waiting;
    }
    if (m_settings && m_settings->waitingAlertMinutes() > 0)
        m_waitingRule->setLimit(static_cast<qint64>(m_settings->waitingAlertMinutes()) * 60);
    m_rooms->setWaitingLimit(m_waitingRule->limit());

    // A filter change can hide the selected room.
    connect(m_roomsFilter, &QAbstractItemModel::rowsRemoved, this, &ConsoleController::checkSelection);
    connect(m_roomsFilter, &QAbstractItemModel::modelReset, this, &ConsoleController::checkSelection);
    connect(m_roomsFilter, &QAbstractItemModel::layoutChanged, this, &ConsoleController::checkSelection);

    setSource(new FallbackSource(m_client));
}

ConsoleController::~ConsoleController()
{
    if (m_source)
        m_source->disconnect(this);
}

void ConsoleController::setSource(DataSource *source)
{
    if (m_source) {
        m_source->disconnect(this);
        m_source->stop();
        m_source->deleteLater();
    }
    m_source = source;
    m_source->setParent(this);
    attachSource();
}

void ConsoleController::attachSource()
{
    connect(m_source, &DataSource::stateChanged, this, &ConsoleController::onStateChanged);
    connect(m_source, &DataSource::retryScheduled, this, &ConsoleController::retryScheduled);
    connect(m_source, &DataSource::serverRestarted, this, [this] {
        m_log->addConsoleEntry(u"connection"_s, tr("The server restarted"), LogEntry::Severity::Warning);
        for (const auto &rule : m_rules)
            rule->reset();
    });
    connect(m_source, &DataSource::figuresUpdated, this, &ConsoleController::onFigures);
    connect(m_source, &DataSource::activitySampled, this, &ConsoleController::onSample);
    connect(m_source, &DataSource::roomsReplaced, this, &ConsoleController::onRoomsReplaced);
    connect(m_source, &DataSource::roomUpdated, this, &ConsoleController::onRoomUpdated);
    connect(m_source, &DataSource::roomRemoved, this, &ConsoleController::onRoomRemoved);
    connect(m_source, &DataSource::roomsUpdated, this, &ConsoleController::onRoomsUpdated);
    connect(m_source, &DataSource::eventsReceived, this, [this](const QList<adminapi::Event> &events) {
        m_log->addServerEvents(events);
        m_consultation->eventsReceived(events);
    });
    connect(m_source, &DataSource::notice, this, [this](const QString &text, LogEntry::Severity severity) {
        m_log->addConsoleEntry(u"connection"_s, text, severity);
    });
}

void ConsoleController::addAlertRule(std::unique_ptr<AlertRule> rule)
{
    m_rules.push_back(std::move(rule));
    evaluateAlerts();
}

ConnectionState ConsoleController::state() const
{
    return m_source->state();
}

QString ConsoleController::stateReason() const
{
    return m_source->stateReason();
}

bool ConsoleController::isLive() const
{
    return m_source->isLive();
}

QString ConsoleController::stateTitle() const
{
    if (state() == ConnectionState::Unauthorised && !hasToken())
        return tr("Admin token needed");
    return Connection::stateName(state());
}

void ConsoleController::clearData()
{
    m_rooms->clear();
    m_participants->clear();
    m_history.clear();
    m_figures.reset();
    m_hasData = false;
    m_lastUpdate = {};
    m_consultation->close();
    selectRoom({});
    updateStale();
    Q_EMIT figuresChanged();
    Q_EMIT historyChanged();
}

void ConsoleController::connectTo(const QUrl &server, const QString &token, std::optional<Remember> remember)
{
    m_source->stop();
    clearData();
    m_alerts->clearAll();
    for (const auto &rule : m_rules)
        rule->reset();
    m_server = server;
    m_token = token;
    m_pendingRemember = remember;
    if (m_settings && remember && !remember->token)
        m_settings->forgetToken(server); // unticked: forgotten now, whether or not it answers
    Q_EMIT serverChanged(server);
    m_client->setServer(server, token);
    m_source->start();
}

void ConsoleController::disconnectFromServer()
{
    m_pendingRemember.reset();
    m_source->stop();
}

bool ConsoleController::canRefresh() const
{
    const ConnectionState s = state();
    return !m_server.isEmpty() && s != ConnectionState::Disconnected && s != ConnectionState::Unauthorised;
}

void ConsoleController::refresh()
{
    if (canRefresh())
        m_source->refreshNow();
}

void ConsoleController::onStateChanged(ConnectionState state, const QString &reason)
{
    const QString server = m_server.toDisplayString(QUrl::RemoveUserInfo);
    QString text;
    LogEntry::Severity severity = LogEntry::Severity::Info;
    switch (state) {
    case ConnectionState::Disconnected:
        text = server.isEmpty() ? tr("Not connected. Use Server \u2192 Connect.") : tr("Disconnected from %1").arg(server);
        break;
    case ConnectionState::Connecting: text = tr("Connecting to %1\u2026").arg(server); break;
    case ConnectionState::Connected: text = tr("Connected to %1, %2").arg(server, m_source->description()); break;
    case ConnectionState::Draining:
        text = tr("%1 is draining: it is shutting down and accepts no new consultations").arg(server);
        severity = LogEntry::Severity::Warning;
        break;
    case ConnectionState::Unauthorised:
        text = hasToken() ? tr("%1 refused the admin token: %2. Connect again with the right token.").arg(server, reason)
                          : tr("%1 needs an admin token: %2.").arg(server, reason);
        severity = LogEntry::Severity::Error;
        break;
    case ConnectionState::Unreachable:
        text = tr("%1 is unreachable: %2. Retrying by itself.").arg(server, reason);
        severity = LogEntry::Severity::Error;
        break;
    }
    if (!server.isEmpty())
        m_log->addConsoleEntry(u"connection"_s, text, severity);
    if (state == ConnectionState::Disconnected)
        clearData();
    if (Connection::isLive(state))
        rememberChoices();
    m_consultation->setLive(Connection::isLive(state));
    updateStale();
    Q_EMIT stateChanged(state, reason);
    Q_EMIT statusMessage(text, 0);
    evaluateAlerts();
    Q_EMIT availabilityChanged();
    if (state == ConnectionState::Unauthorised && !hasToken())
        Q_EMIT tokenRequested(m_server);
}

void ConsoleController::rememberChoices()
{
    if (!m_pendingRemember)
        return;
    const Remember remember = *m_pendingRemember;
    m_pendingRemember.reset();
    if (!m_settings)
        return;
    if (remember.server)
        m_settings->addRecentServer(m_server);
    if (remember.token && !m_token.isEmpty() && !m_settings->rememberToken(m_server, m_token)) {
        m_log->addConsoleEntry(u"connection"_s,
                               tr("The token could not be remembered: %1 could not be made private")
                                   .arg(m_settings->tokenFileName()),
                               LogEntry::Severity::Warning);
    }
    m_settings->sync();
}

void ConsoleController::dataArrived()
{
    m_hasData = true;
    m_lastUpdate = QDateTime::currentDateTime();
    updateStale();
    Q_EMIT updated();
}

void ConsoleController::updateStale()
{
    const bool stale = m_hasData && !isLive();
    if (stale == m_stale)
        return;
    m_stale = stale;
    Q_EMIT staleChanged(stale);
}

void ConsoleController::onFigures(const ServerFigures &figures)
{
    m_figures = figures;
    // The server's clock moved: durations, waits and idle times with it.
    m_rooms->setNow(figures.timestamp);
    m_consultation->setNow(figures.timestamp);
    dataArrived();
    Q_EMIT figuresChanged();
    evaluateAlerts();
}

void ConsoleController::onSample(const ActivitySample &sample)
{
    m_history.append(sample);
    Q_EMIT historyChanged();
}

void ConsoleController::onRoomsReplaced(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow)
{
    m_rooms->update(rooms, serverNow);
    if (m_consultation->isOpen()) {
        if (const adminapi::RoomInfo *watched = m_rooms->room(m_consultation->roomId()))
            m_consultation->roomUpdated(*watched, serverNow);
        else
            m_consultation->roomRemoved(m_consultation->roomId(), serverNow);
    }
    dataArrived();
    checkSelection();
    refreshParticipants();
    evaluateAlerts();
}

void ConsoleController::onRoomUpdated(const adminapi::RoomInfo &room, const QDateTime &serverNow)
{
    m_rooms->upsert(room, serverNow);
    m_consultation->roomUpdated(room, serverNow);
    dataArrived();
    checkSelection();
    if (room.id == m_selectedRoom)
        refreshParticipants();
    evaluateAlerts();
}

void ConsoleController::onRoomRemoved(const QString &roomId, const QDateTime &serverNow)
{
    m_rooms->remove(roomId, serverNow);
    m_consultation->roomRemoved(roomId, serverNow);
    dataArrived();
    checkSelection();
    evaluateAlerts();
}

void ConsoleController::onRoomsUpdated(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow)
{
    m_rooms->upsertMany(rooms, serverNow);
    bool selectedChanged = false;
    for (const auto &room : rooms) {
        if (room.id == m_consultation->roomId())
            m_consultation->roomUpdated(room, serverNow);
        selectedChanged = selectedChanged || room.id == m_selectedRoom;
    }
    dataArrived();
    checkSelection();
    if (selectedChanged)
        refreshParticipants();
    evaluateAlerts();
}

void ConsoleController::setFilterText(const QString &text)
{
    m_roomsFilter->setFilterText(text);
    checkSelection();
}

void ConsoleController::checkSelection()
{
    if (!m_selectedRoom.isEmpty() && !m_roomsFilter->accepts(m_selectedRoom))
        selectRoom({});
}

bool ConsoleController::selectRoom(const QString &roomId)
{
    if (!roomId.isEmpty() && !m_roomsFilter->accepts(roomId))
        return false;
    if (roomId == m_selectedRoom && m_participants->roomId() == roomId)
        return true;
    m_selectedRoom = roomId;
    refreshParticipants();
    Q_EMIT roomSelectionChanged(roomId);
    Q_EMIT availabilityChanged();
    return true;
}

void ConsoleController::refreshParticipants()
{
    const adminapi::RoomInfo *room = m_rooms->room(m_selectedRoom);
    m_participants->setRoom(room ? room->id : QString(), room ? room->participants : QList<adminapi::ParticipantInfo>{});
    if (!m_selectedConnection.isEmpty() && !m_participants->participant(m_selectedConnection))
        selectParticipant({});
}

bool ConsoleController::selectParticipant(const QString &connectionId)
{
    if (!connectionId.isEmpty() && !m_participants->participant(connectionId))
        return false;
    if (connectionId == m_selectedConnection)
        return true;
    m_selectedConnection = connectionId;
    Q_EMIT participantSelectionChanged(connectionId);
    Q_EMIT availabilityChanged();
    return true;
}

bool ConsoleController::canCloseRoom() const
{
    return isLive() && m_rooms->room(m_selectedRoom) != nullptr;
}

bool ConsoleController::canCloseIdleRooms() const
{
    return isLive();
}

bool ConsoleController::canDisconnectParticipant() const
{
    return isLive() && m_participants->participant(m_selectedConnection) != nullptr;
}

bool ConsoleController::canEndConsultation(const QString &roomId) const
{
    return isLive() && m_rooms->room(roomId) != nullptr;
}

bool ConsoleController::closeSelectedRoom()
{
    return canCloseRoom() && m_actions->requestCloseRoom(m_selectedRoom);
}

bool ConsoleController::endSelectedConsultation()
{
    return endConsultation(m_selectedRoom);
}

bool ConsoleController::endConsultation(const QString &roomId)
{
    return canEndConsultation(roomId) && m_actions->requestEndConsultation(roomId);
}

bool ConsoleController::closeRoom(const QString &roomId)
{
    return isLive() && m_actions->requestCloseRoom(roomId);
}

bool ConsoleController::openConsultation(const QString &roomId)
{
    const QString id = roomId.isEmpty() ? m_selectedRoom : roomId;
    if (id.isEmpty())
        return false;
    m_consultation->open(id, m_rooms->room(id), m_rooms->now());
    return true;
}

void ConsoleController::closeConsultation()
{
    m_consultation->close();
}

void ConsoleController::setWaitingAlertSeconds(qint64 seconds)
{
    m_waitingRule->setLimit(seconds);
    m_rooms->setWaitingLimit(m_waitingRule->limit());
    if (m_settings) {
        m_settings->setWaitingAlertMinutes(static_cast<int>(std::max<qint64>(1, m_waitingRule->limit() / 60)));
        m_settings->sync();
    }
    evaluateAlerts();
}

qint64 ConsoleController::waitingAlertSeconds() const
{
    return m_waitingRule->limit();
}

bool ConsoleController::disconnectSelectedParticipant()
{
    return canDisconnectParticipant() && m_actions->requestDisconnect(m_selectedConnection);
}

void ConsoleController::evaluateAlerts()
{
    AlertContext context;
    context.state = state();
    context.reason = stateReason();
    context.server = m_server;
    context.tokenGiven = hasToken();
    context.figures = m_figures ? &*m_figures : nullptr;
    context.rooms = m_rooms;
    for (const auto &rule : m_rules)
        rule->evaluate(context, *m_alerts);
}

} // namespace medrelay::console
