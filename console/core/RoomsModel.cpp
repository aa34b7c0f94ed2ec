#include "core/RoomsModel.h"

#include "core/Format.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

RoomsModel::RoomsModel(QObject *parent)
    : KeyedTableModel<adminapi::RoomInfo>(parent)
{
}

void RoomsModel::update(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow)
{
    m_now = serverNow.isValid() ? serverNow : QDateTime::currentDateTimeUtc();
    sync(rooms, IdleColumn, IdleColumn);
}

void RoomsModel::upsert(const adminapi::RoomInfo &room, const QDateTime &serverNow)
{
    upsertItem(room);
    if (serverNow.isValid() && serverNow != m_now) {
        m_now = serverNow;
        touchColumns(IdleColumn, IdleColumn);
    }
}

bool RoomsModel::remove(const QString &roomId, const QDateTime &serverNow)
{
    const bool removed = removeKey(roomId);
    if (serverNow.isValid() && serverNow != m_now) {
        m_now = serverNow;
        touchColumns(IdleColumn, IdleColumn);
    }
    return removed;
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
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case RoomIdColumn: return room->id;
        case AppointmentColumn: return QString::number(room->appointmentId); // 0 is an id like any other
        case ParticipantsColumn: return room->connectionCount;
        case IdleColumn: return format::duration(idleSeconds(*room));
        case LastActivityColumn: return format::time(room->lastActivity);
        }
        break;
    case SortRole:
        switch (column) {
        case RoomIdColumn: return room->id;
        case AppointmentColumn: return room->appointmentId;
        case ParticipantsColumn: return room->connectionCount;
        case IdleColumn: return idleSeconds(*room);
        case LastActivityColumn: return room->lastActivity;
        }
        break;
    case Qt::TextAlignmentRole:
        if (column == AppointmentColumn || column == ParticipantsColumn || column == IdleColumn)
            return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
        break;
    case Qt::ToolTipRole:
        return tr("Room %1, appointment %2\nCreated %3\nLast activity %4\n%n participant(s)", nullptr,
                  room->connectionCount)
            .arg(room->id, QString::number(room->appointmentId),
                 room->createdAt.isValid() ? room->createdAt.toLocalTime().toString(Qt::ISODate) : u"-"_s,
                 room->lastActivity.isValid() ? room->lastActivity.toLocalTime().toString(Qt::ISODate) : u"-"_s);
    case RoomIdRole:
        return room->id;
    case IdleSecondsRole:
        return idleSeconds(*room);
    default:
        break;
    }
    return {};
}

QVariant RoomsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case RoomIdColumn: return tr("Room");
    case AppointmentColumn: return tr("Appointment");
    case ParticipantsColumn: return tr("Participants");
    case IdleColumn: return tr("Idle for");
    case LastActivityColumn: return tr("Last activity");
    }
    return {};
}

} // namespace medrelay::console
