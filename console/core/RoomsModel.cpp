#include "core/RoomsModel.h"

#include "core/Format.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {

// The columns whose value follows the clock; contiguous, so one dataChanged covers them.
constexpr int kClockFirst = RoomsModel::WaitingColumn;
constexpr int kClockLast = RoomsModel::IdleColumn;

} // namespace

RoomsModel::RoomsModel(QObject *parent)
    : KeyedTableModel<adminapi::RoomInfo>(parent)
{
}

void RoomsModel::update(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow)
{
    m_now = serverNow.isValid() ? serverNow : QDateTime::currentDateTimeUtc();
    sync(rooms, kClockFirst, kClockLast);
}

void RoomsModel::upsert(const adminapi::RoomInfo &room, const QDateTime &serverNow)
{
    upsertItem(room);
    moveClock(serverNow);
}

void RoomsModel::upsertMany(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow)
{
    upsertItems(rooms);
    moveClock(serverNow);
}

bool RoomsModel::remove(const QString &roomId, const QDateTime &serverNow)
{
    const bool removed = removeKey(roomId);
    moveClock(serverNow);
    return removed;
}

void RoomsModel::setNow(const QDateTime &serverNow)
{
    moveClock(serverNow);
}

void RoomsModel::moveClock(const QDateTime &serverNow)
{
    if (serverNow.isValid() && serverNow != m_now) {
        m_now = serverNow;
        touchColumns(kClockFirst, kClockLast);
    }
}

void RoomsModel::setWaitingLimit(qint64 seconds)
{
    if (seconds == m_waitingLimit)
        return;
    m_waitingLimit = std::max<qint64>(0, seconds);
    touchColumns(WaitingColumn, WaitingColumn);
}

void RoomsModel::clear()
{
    clearItems();
}

qint64 RoomsModel::idleSeconds(const adminapi::RoomInfo &room) const
{
    const QDateTime since = room.lastActivity.isValid() ? room.lastActivity : room.createdAt;
    if (!since.isValid() || !m_now.isValid())
        return 0;
    return std::max<qint64>(0, since.secsTo(m_now));
}

qint64 RoomsModel::longestWaitSeconds(const adminapi::RoomInfo &room) const
{
    QDateTime earliest;
    for (const auto &guest : room.waiting) {
        if (guest.joinedAt.isValid() && (!earliest.isValid() || guest.joinedAt < earliest))
            earliest = guest.joinedAt;
    }
    if (!earliest.isValid() || !m_now.isValid())
        return -1;
    return std::max<qint64>(0, earliest.secsTo(m_now));
}

qint64 RoomsModel::durationSeconds(const adminapi::RoomInfo &room) const
{
    if (!room.createdAt.isValid() || !m_now.isValid())
        return 0;
    return std::max<qint64>(0, room.createdAt.secsTo(m_now));
}

int RoomsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RoomsModel::data(const QModelIndex &index, int role) const
{
    const adminapi::RoomInfo *room = itemAt(index.row());
    if (!room || index.column() < 0 || index.column() >= ColumnCount)
        return {};
    const int column = index.column();
    const qint64 longest = role == Qt::DisplayRole || role == SortRole || role == LongestWaitSecondsRole
                                   || role == WaitingTooLongRole || role == Qt::ToolTipRole
                               ? longestWaitSeconds(*room)
                               : -1;
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case RoomIdColumn: return room->id;
        case AppointmentColumn: return QString::number(room->appointmentId); // 0 is an id like any other
        case ParticipantsColumn: return room->connectionCount;
        case WaitingColumn:
            if (room->waitingCount <= 0)
                return QString();
            return longest < 0 ? QString::number(room->waitingCount)
                               : tr("%1, %2").arg(room->waitingCount).arg(format::duration(longest));
        case HostColumn: return room->hostPresent ? tr("present") : tr("absent");
        case LockedColumn: return room->locked ? tr("locked") : QString();
        case StartedColumn: return format::time(room->createdAt);
        case DurationColumn: return room->createdAt.isValid() ? format::duration(durationSeconds(*room)) : u"-"_s;
        case IdleColumn: return format::duration(idleSeconds(*room));
        case LastActivityColumn: return format::time(room->lastActivity);
        }
        break;
    case SortRole:
        switch (column) {
        case RoomIdColumn: return room->id;
        case AppointmentColumn: return room->appointmentId;
        case ParticipantsColumn: return room->connectionCount;
        // By how long the longest has waited, then by how many wait.
        case WaitingColumn: return std::max<qint64>(longest, 0) * 1000 + room->waitingCount;
        case HostColumn: return room->hostPresent;
        case LockedColumn: return room->locked;
        case StartedColumn: return room->createdAt;
        case DurationColumn: return durationSeconds(*room);
        case IdleColumn: return idleSeconds(*room);
        case LastActivityColumn: return room->lastActivity;
        }
        break;
    case Qt::TextAlignmentRole:
        if (column == AppointmentColumn || column == ParticipantsColumn || column == IdleColumn
            || column == DurationColumn || column == WaitingColumn)
            return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
        break;
    case Qt::ToolTipRole: {
        QString waiting = tr("nobody waiting");
        if (room->waitingCount > 0)
            waiting = longest < 0 ? tr("%n guest(s) waiting", nullptr, room->waitingCount)
                                  : tr("%n guest(s) waiting, the longest for %1", nullptr, room->waitingCount)
                                        .arg(format::duration(longest));
        return tr("Room %1, appointment %2\nStarted %3\nLast activity %4\n%n participant(s); %5; host %6%7%8", nullptr,
                  room->connectionCount)
            .arg(room->id, QString::number(room->appointmentId),
                 room->createdAt.isValid() ? room->createdAt.toLocalTime().toString(Qt::ISODate) : u"-"_s,
                 room->lastActivity.isValid() ? room->lastActivity.toLocalTime().toString(Qt::ISODate) : u"-"_s,
                 waiting, room->hostPresent ? tr("present") : tr("absent"),
                 room->waitingRoom ? tr("; waiting room on") : QString(), room->locked ? tr("; locked") : QString());
    }
    case RoomIdRole:
        return room->id;
    case IdleSecondsRole:
        return idleSeconds(*room);
    case LongestWaitSecondsRole:
        return longest;
    case WaitingTooLongRole:
        return column == WaitingColumn && m_waitingLimit > 0 && longest > m_waitingLimit;
    default:
        break;
    }
    return {};
}

QVariant RoomsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case WaitingColumn: return tr("Guests in the waiting room, and how long the longest has waited");
        case HostColumn: return tr("Whether a host (clinician) is in the room");
        case LockedColumn: return tr("A locked room refuses guests who are not in it yet");
        case StartedColumn: return tr("When the consultation started");
        case DurationColumn: return tr("How long the consultation has run");
        case IdleColumn: return tr("Time since the last message in the room");
        }
        return {};
    }
    if (role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case RoomIdColumn: return tr("Room");
    case AppointmentColumn: return tr("Appointment");
    case ParticipantsColumn: return tr("Participants");
    case WaitingColumn: return tr("Waiting");
    case HostColumn: return tr("Host");
    case LockedColumn: return tr("Locked");
    case StartedColumn: return tr("Started");
    case DurationColumn: return tr("Duration");
    case IdleColumn: return tr("Idle for");
    case LastActivityColumn: return tr("Last activity");
    }
    return {};
}

} // namespace medrelay::console
