#include "widgets/ConsultationPanel.h"

#include "controller/Consultation.h"
#include "controller/ConsoleController.h"
#include "core/Format.h"
#include "core/MessageCountsModel.h"
#include "core/ParticipantsModel.h"
#include "core/TimelineModel.h"
#include "widgets/Tables.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

QTableView *sortedTable(QAbstractItemModel *model, int sortRole, int column, QWidget *parent)
{
    auto *proxy = new QSortFilterProxyModel(parent);
    proxy->setSourceModel(model);
    proxy->setSortRole(sortRole);
    proxy->setDynamicSortFilter(true);
    QTableView *view = tables::make(proxy, parent);
    view->setSortingEnabled(true);
    view->sortByColumn(column, Qt::AscendingOrder);
    return view;
}

} // namespace

ConsultationPanel::ConsultationPanel(ConsoleController *controller, QWidget *parent)
    : QWidget(parent), m_controller(controller)
{
    setObjectName(u"consultationPanel"_s);
    Consultation *c = m_controller->consultation();
    auto *outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);

    auto *placeholder = new QLabel(tr("Double-click a room, or select it and press Enter, to watch its consultation "
                                      "here: who is in it, who waits, what happens."),
                                   this);
    placeholder->setObjectName(u"consultationPlaceholder"_s);
    placeholder->setWordWrap(true);
    placeholder->setAlignment(Qt::AlignCenter);
    placeholder->setForegroundRole(QPalette::PlaceholderText);
    m_placeholder = placeholder;
    outer->addWidget(m_placeholder);

    m_body = new QWidget(this);
    auto *layout = new QVBoxLayout(m_body);
    layout->setContentsMargins(0, 0, 0, 0);
    m_title = tables::title(QString(), m_body);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_title->setWordWrap(true);
    layout->addWidget(m_title);
    m_state = new QLabel(m_body);
    m_state->setObjectName(u"consultationState"_s);
    m_state->setWordWrap(true);
    layout->addWidget(m_state);

    auto *buttons = new QHBoxLayout;
    m_end = new QPushButton(tr("&End consultation\u2026"), m_body);
    m_end->setToolTip(tr("Ends the consultation for everyone in it and deletes its stored messages (asks first)"));
    m_closeRoom = new QPushButton(tr("Close &room\u2026"), m_body);
    m_closeRoom->setToolTip(tr("Closes the room and removes its participants (asks first)"));
    m_stopWatching = new QPushButton(tr("Stop &watching"), m_body);
    buttons->addWidget(m_end);
    buttons->addWidget(m_closeRoom);
    buttons->addStretch();
    buttons->addWidget(m_stopWatching);
    layout->addLayout(buttons);

    auto *split = new QSplitter(Qt::Vertical, m_body);
    split->setObjectName(u"consultationSplitter"_s);
    split->setChildrenCollapsible(false);

    auto *people = new QWidget(split);
    auto *peopleLayout = new QVBoxLayout(people);
    peopleLayout->setContentsMargins(0, 0, 0, 0);
    peopleLayout->addWidget(tables::title(tr("Participants"), people));
    m_participants = sortedTable(c->participants(), ParticipantsModel::SortRole, ParticipantsModel::JoinedColumn, people);
    m_participants->setObjectName(u"consultationParticipants"_s);
    tables::setColumnWidths(m_participants, {u"100000"_s, u"Dr Firstname Lastname"_s, u"clinician"_s, u"host"_s,
                                             u"in the room"_s, u"00:00:00"_s, u"00:00:00"_s});
    peopleLayout->addWidget(m_participants);
    m_waitingTitle = tables::title(tr("Waiting room"), people);
    peopleLayout->addWidget(m_waitingTitle);
    m_waiting = sortedTable(c->waiting(), ParticipantsModel::SortRole, ParticipantsModel::JoinedColumn, people);
    m_waiting->setObjectName(u"consultationWaiting"_s);
    tables::setColumnWidths(m_waiting, {u"100000"_s, u"Firstname Lastname"_s, u"patient"_s, u"host"_s,
                                        u"waiting"_s, u"00:00:00"_s});
    peopleLayout->addWidget(m_waiting);
    split->addWidget(people);

    auto *lower = new QSplitter(Qt::Horizontal, split);
    lower->setObjectName(u"consultationLowerSplitter"_s);
    lower->setChildrenCollapsible(false);
    auto *counts = new QWidget(lower);
    auto *countsLayout = new QVBoxLayout(counts);
    countsLayout->setContentsMargins(0, 0, 0, 0);
    m_messagesTitle = tables::title(tr("Messages"), counts);
    countsLayout->addWidget(m_messagesTitle);
    m_messages = sortedTable(c->messages(), MessageCountsModel::SortRole, MessageCountsModel::KindColumn, counts);
    m_messages->setObjectName(u"consultationMessages"_s);
    m_messages->setToolTip(tr("Messages relayed in this room by kind: counts only, never their content"));
    tables::setColumnWidths(m_messages, {u"Whiteboard"_s, u"000000"_s});
    // Both columns in view, the count included.
    m_messages->setMinimumWidth(m_messages->horizontalHeader()->length() + 2 * m_messages->frameWidth()
                                + m_messages->verticalScrollBar()->sizeHint().width());
    countsLayout->addWidget(m_messages);
    auto *events = new QWidget(lower);
    auto *eventsLayout = new QVBoxLayout(events);
    eventsLayout->setContentsMargins(0, 0, 0, 0);
    eventsLayout->addWidget(tables::title(tr("Timeline"), events));
    m_timeline = tables::make(c->timeline(), events);
    m_timeline->setObjectName(u"consultationTimeline"_s);
    m_timeline->setTextElideMode(Qt::ElideRight);
    m_timeline->setWordWrap(true);
    tables::setColumnWidths(m_timeline, {u"00:00:00"_s});
    eventsLayout->addWidget(m_timeline);
    lower->addWidget(counts);
    lower->addWidget(events);
    lower->setStretchFactor(0, 1);
    lower->setStretchFactor(1, 3);
    split->addWidget(lower);
    // What happens (counts, timeline) matters as much as who is there.
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);
    outer->addWidget(m_body, 1);

    connect(m_end, &QPushButton::clicked, this, [this] {
        m_controller->endConsultation(m_controller->consultation()->roomId());
    });
    connect(m_closeRoom, &QPushButton::clicked, this, [this] {
        m_controller->closeRoom(m_controller->consultation()->roomId());
    });
    connect(m_stopWatching, &QPushButton::clicked, m_controller, &ConsoleController::closeConsultation);
    connect(c, &Consultation::changed, this, &ConsultationPanel::refresh);
    connect(c, &Consultation::opened, this, &ConsultationPanel::refresh);
    connect(c, &Consultation::closed, this, &ConsultationPanel::refresh);
    connect(m_controller, &ConsoleController::availabilityChanged, this, &ConsultationPanel::refresh);
    // Follow the newest line only while the user is at the bottom.
    connect(c->timeline(), &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        const QScrollBar *bar = m_timeline->verticalScrollBar();
        m_followTimeline = bar->value() >= bar->maximum() - 2;
    });
    connect(c->timeline(), &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_followTimeline)
            m_timeline->scrollToBottom();
    });
    refresh();
}

void ConsultationPanel::setStale(bool stale)
{
    for (QTableView *view : {m_participants, m_waiting, m_messages, m_timeline})
        tables::setStaleLook(view, stale);
}

void ConsultationPanel::refresh()
{
    const Consultation *c = m_controller->consultation();
    m_placeholder->setVisible(!c->isOpen());
    m_body->setVisible(c->isOpen());
    if (!c->isOpen())
        return;
    const auto &room = c->room();
    m_title->setText(room ? tr("Consultation in room %1, appointment %2").arg(room->id).arg(room->appointmentId)
                          : tr("Consultation in room %1").arg(c->roomId()));
    QStringList state;
    if (c->isGone()) {
        state.append(tr("Over: %1.").arg(c->goneReason()));
    } else if (room) {
        if (room->createdAt.isValid())
            state.append(tr("Started %1, running for %2.").arg(format::time(room->createdAt),
                                                               format::duration(c->durationSeconds())));
        state.append(room->hostPresent ? tr("A host is present.") : tr("No host present."));
        state.append(room->waitingRoom ? tr("Waiting room on.") : tr("Waiting room off."));
        state.append(room->locked ? tr("Locked: guests cannot join.") : tr("Not locked."));
    }
    if (!c->fetched() && !c->fetchError().isEmpty() && !c->isGone())
        state.append(tr("(Details from the rooms list: %1.)").arg(c->fetchError()));
    m_state->setText(state.join(u' '));
    const qsizetype waiting = room ? room->waiting.size() : 0;
    m_waitingTitle->setText(waiting > 0 ? tr("Waiting room: %n guest(s)", nullptr, static_cast<int>(waiting))
                                        : tr("Waiting room: nobody waiting"));
    m_messagesTitle->setText(tr("Messages: %1").arg(c->messages()->total()));
    const bool open = !c->isGone() && m_controller->canEndConsultation(c->roomId());
    m_end->setEnabled(open);
    m_closeRoom->setEnabled(open);
}

} // namespace medrelay::console
