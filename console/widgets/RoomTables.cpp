#include "widgets/RoomTables.h"

#include "controller/ConsoleController.h"
#include "core/ParticipantsModel.h"
#include "core/RoomFilterModel.h"
#include "core/RoomsModel.h"
#include "widgets/Tables.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

// Escape empties the filter (and a second Escape leaves it to the window).
class FilterEdit final : public QLineEdit
{
public:
    using QLineEdit::QLineEdit;

protected:
    void keyPressEvent(QKeyEvent *event) override
    {
        if (event->key() == Qt::Key_Escape && !text().isEmpty()) {
            clear();
            event->accept();
            return;
        }
        QLineEdit::keyPressEvent(event);
    }
};

// A guest who has waited longer than the alert's limit stands out in the
// Waiting column: bold, on the alert band's amber mixed into the base colour
// (readable in light and dark palettes).
class WaitingDelegate final : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        if (index.data(RoomsModel::WaitingTooLongRole).toBool()) {
            option->font.setBold(true);
            const QColor base = option->palette.color(QPalette::Base);
            const QColor amber(0xf2, 0x9d, 0x00);
            constexpr float mix = 0.35F;
            option->backgroundBrush = QColor::fromRgbF(base.redF() * (1 - mix) + amber.redF() * mix,
                                                       base.greenF() * (1 - mix) + amber.greenF() * mix,
                                                       base.blueF() * (1 - mix) + amber.blueF() * mix);
        }
    }
};

QAction *copyAction(const QString &text, QWidget *view, std::function<QString()> value)
{
    auto *action = new QAction(text, view);
    QObject::connect(action, &QAction::triggered, view, [value = std::move(value)] {
        if (const QString id = value(); !id.isEmpty())
            QApplication::clipboard()->setText(id);
    });
    view->addAction(action);
    return action;
}

} // namespace

RoomTables::RoomTables(ConsoleController *controller, QAction *filterAction, QWidget *parent)
    : QSplitter(Qt::Vertical, parent), m_controller(controller)
{
    setObjectName(u"tablesSplitter"_s);
    setChildrenCollapsible(false);
    addWidget(buildRooms(filterAction));
    addWidget(buildParticipants());
    setStretchFactor(0, 3);
    setStretchFactor(1, 2);
    setSizes({300, 200});

    // What is *selected* is what actions act on, not the view's current
    // index: when the selected room goes away (closed, or filtered out) the
    // view moves its current index to a neighbour but leaves nothing selected.
    connect(m_roomsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        m_controller->selectRoom(tables::selectedKey(m_roomsView, RoomsModel::RoomIdRole));
    });
    connect(m_participantsView->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        m_controller->selectParticipant(tables::selectedKey(m_participantsView, ParticipantsModel::ConnectionIdRole));
    });
    connect(m_controller, &ConsoleController::roomSelectionChanged, this, &RoomTables::syncRoomView);
    connect(m_controller, &ConsoleController::roomSelectionChanged, this, &RoomTables::updateParticipantsTitle);
    connect(m_controller, &ConsoleController::participantSelectionChanged, this, &RoomTables::syncParticipantView);
    connect(m_controller, &ConsoleController::stateChanged, this, &RoomTables::updateRoomsPlaceholder);
    // Double-click or Enter on a room: watch its consultation.
    connect(m_roomsView, &QTableView::activated, this, [this](const QModelIndex &index) {
        m_controller->openConsultation(index.data(RoomsModel::RoomIdRole).toString());
    });
    updateParticipantsTitle();
}

QWidget *RoomTables::buildRooms(QAction *filterAction)
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(0, 0, 0, 0);
    auto *bar = new QHBoxLayout;
    bar->addWidget(tables::title(tr("Rooms"), panel));
    bar->addStretch();
    m_filter = new FilterEdit(panel);
    m_filter->setObjectName(u"roomFilter"_s);
    m_filter->setPlaceholderText(
        tr("Filter: room, user or name (%1)").arg(filterAction->shortcut().toString(QKeySequence::NativeText)));
    m_filter->setToolTip(tr("Shows the rooms whose id or appointment, or a participant's user id or name, contains "
                            "the text. Escape clears it."));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMinimumWidth(m_filter->fontMetrics().averageCharWidth() * 20);
    bar->addWidget(m_filter, 1);
    layout->addLayout(bar);

    RoomFilterModel *filter = m_controller->roomsFilter();
    m_roomsView = tables::make(filter, panel);
    m_roomsView->setObjectName(u"roomsView"_s);
    m_roomsView->setSortingEnabled(true);
    m_roomsView->sortByColumn(RoomsModel::RoomIdColumn, Qt::AscendingOrder);
    tables::setColumnWidths(m_roomsView, {u"cardio-2024-0001-abcdef"_s, u"123456"_s, u"12"_s, u"2, 59 min 59 s"_s,
                                          u"present"_s, u"locked"_s, u"00:00:00"_s, u"59 min 59 s"_s,
                                          u"59 min 59 s"_s});
    m_roomsView->setItemDelegateForColumn(RoomsModel::WaitingColumn, new WaitingDelegate(m_roomsView));
    copyAction(tr("Copy room id"), m_roomsView, [this] { return m_controller->currentRoomId(); });
    layout->addWidget(m_roomsView);

    m_roomsEmpty = new QLabel(panel);
    m_roomsEmpty->setObjectName(u"roomsPlaceholder"_s);
    m_roomsEmpty->setAlignment(Qt::AlignCenter);
    m_roomsEmpty->setWordWrap(true);
    m_roomsEmpty->setForegroundRole(QPalette::PlaceholderText);
    m_roomsEmpty->setVisible(false);
    layout->addWidget(m_roomsEmpty);

    connect(m_filter, &QLineEdit::textChanged, this, &RoomTables::onFilterChanged);
    connect(filterAction, &QAction::triggered, m_filter, [this] {
        m_filter->setFocus(Qt::ShortcutFocusReason);
        m_filter->selectAll();
    });
    connect(filter, &QAbstractItemModel::rowsInserted, this, &RoomTables::updateRoomsPlaceholder);
    connect(filter, &QAbstractItemModel::rowsRemoved, this, &RoomTables::updateRoomsPlaceholder);
    connect(filter, &QAbstractItemModel::modelReset, this, &RoomTables::updateRoomsPlaceholder);
    return panel;
}

QWidget *RoomTables::buildParticipants()
{
    auto *panel = new QWidget(this);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(0, 0, 0, 0);
    m_participantsTitle = tables::title(QString(), panel);
    m_participantsTitle->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_participantsTitle);
    auto *proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_controller->participants());
    proxy->setSortRole(ParticipantsModel::SortRole);
    proxy->setDynamicSortFilter(true);
    m_participantsView = tables::make(proxy, panel);
    m_participantsView->setObjectName(u"participantsView"_s);
    m_participantsView->setSortingEnabled(true);
    m_participantsView->sortByColumn(ParticipantsModel::JoinedColumn, Qt::AscendingOrder);
    tables::setColumnWidths(m_participantsView, {u"100000"_s, u"Dr Firstname Lastname"_s, u"patient"_s, u"host"_s,
                                                 u"in the room"_s, u"00:00:00"_s, u"00:00:00"_s,
                                                 u"192.168.100.100"_s});
    // The instance column means something only in a cluster.
    ParticipantsModel *participants = m_controller->participants();
    const auto showInstances = [this, participants] {
        m_participantsView->setColumnHidden(ParticipantsModel::InstanceColumn, !participants->hasInstances());
    };
    showInstances();
    connect(participants, &QAbstractItemModel::modelReset, this, showInstances);
    connect(participants, &QAbstractItemModel::rowsInserted, this, showInstances);
    connect(participants, &QAbstractItemModel::rowsRemoved, this, showInstances);
    connect(participants, &QAbstractItemModel::dataChanged, this, showInstances);
    copyAction(tr("Copy connection id"), m_participantsView, [this] { return m_controller->currentConnectionId(); });
    layout->addWidget(m_participantsView);
    return panel;
}

void RoomTables::setStale(bool stale)
{
    tables::setStaleLook(m_roomsView, stale);
    tables::setStaleLook(m_participantsView, stale);
}

void RoomTables::onFilterChanged(const QString &text)
{
    m_controller->setFilterText(text);
    // Matches start at the top; a scroll position from before the filter
    // would otherwise keep them out of view.
    const int row = m_controller->rooms()->rowOf(m_controller->currentRoomId());
    const QModelIndex index = row < 0 ? QModelIndex()
                                      : m_controller->roomsFilter()->mapFromSource(m_controller->rooms()->index(row, 0));
    if (index.isValid())
        m_roomsView->scrollTo(index);
    else
        m_roomsView->scrollToTop();
    updateRoomsPlaceholder();
}

void RoomTables::updateRoomsPlaceholder()
{
    const RoomFilterModel *filter = m_controller->roomsFilter();
    QString text;
    if (filter->rowCount() == 0) {
        if (filter->isFiltering() && m_controller->rooms()->rowCount() > 0)
            text = tr("No matching rooms: no room, user or name contains \u201c%1\u201d. Escape clears the filter.")
                       .arg(filter->filterText());
        else if (m_controller->isLive())
            text = tr("No rooms are open.");
    }
    m_roomsEmpty->setText(text);
    m_roomsEmpty->setVisible(!text.isEmpty());
}

void RoomTables::syncRoomView(const QString &roomId)
{
    if (tables::selectedKey(m_roomsView, RoomsModel::RoomIdRole) == roomId)
        return;
    QItemSelectionModel *selection = m_roomsView->selectionModel();
    if (roomId.isEmpty()) {
        selection->clearSelection();
        return;
    }
    const int row = m_controller->rooms()->rowOf(roomId);
    const QModelIndex index = m_controller->roomsFilter()->mapFromSource(m_controller->rooms()->index(row, 0));
    if (!index.isValid())
        return;
    selection->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_roomsView->scrollTo(index);
}

void RoomTables::syncParticipantView(const QString &connectionId)
{
    if (tables::selectedKey(m_participantsView, ParticipantsModel::ConnectionIdRole) == connectionId)
        return;
    QItemSelectionModel *selection = m_participantsView->selectionModel();
    if (connectionId.isEmpty()) {
        selection->clearSelection();
        return;
    }
    const QAbstractItemModel *proxy = m_participantsView->model();
    for (int row = 0; row < proxy->rowCount(); ++row) {
        const QModelIndex index = proxy->index(row, 0);
        if (index.data(ParticipantsModel::ConnectionIdRole).toString() == connectionId) {
            selection->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            return;
        }
    }
}

void RoomTables::updateParticipantsTitle()
{
    const adminapi::RoomInfo *room = m_controller->rooms()->room(m_controller->currentRoomId());
    m_participantsTitle->setText(room ? tr("Participants in room %1, appointment %2").arg(room->id).arg(room->appointmentId)
                                      : tr("Participants (select a room)"));
}

} // namespace medrelay::console
