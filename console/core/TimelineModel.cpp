#include "core/TimelineModel.h"

#include "core/Format.h"

namespace medrelay::console {

TimelineModel::TimelineModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

void TimelineModel::append(const TimelineEntry &entry)
{
    const int row = static_cast<int>(m_entries.size());
    beginInsertRows({}, row, row);
    m_entries.append(entry);
    endInsertRows();
    if (m_entries.size() > m_capacity) {
        const int excess = static_cast<int>(m_entries.size()) - m_capacity;
        beginRemoveRows({}, 0, excess - 1);
        m_entries.remove(0, excess);
        endRemoveRows();
    }
}

void TimelineModel::clear()
{
    if (m_entries.isEmpty())
        return;
    beginRemoveRows({}, 0, static_cast<int>(m_entries.size()) - 1);
    m_entries.clear();
    endRemoveRows();
}

void TimelineModel::setCapacity(int capacity)
{
    m_capacity = std::max(1, capacity);
}

int TimelineModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_entries.size());
}

int TimelineModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TimelineModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_entries.size())
        return {};
    const TimelineEntry &e = m_entries.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return index.column() == TimeColumn ? format::time(e.time) : e.text;
    case Qt::ToolTipRole:
        return e.time.toLocalTime().toString(Qt::ISODateWithMs);
    case KindRole:
        return e.kind;
    default:
        break;
    }
    return {};
}

QVariant TimelineModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    return section == TimeColumn ? tr("Time") : tr("What happened");
}

} // namespace medrelay::console
