#include "core/RoomFilterModel.h"

#include "core/RoomsModel.h"

namespace medrelay::console {

RoomFilterModel::RoomFilterModel(RoomsModel *rooms, QObject *parent)
    : QSortFilterProxyModel(parent), m_rooms(rooms)
{
    setSourceModel(rooms);
    setSortRole(RoomsModel::SortRole);
    setDynamicSortFilter(true);
}

void RoomFilterModel::setFilterText(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed == m_text)
        return;
    m_text = trimmed;
    invalidateFilter();
}

bool RoomFilterModel::accepts(const QString &roomId) const
{
    const int row = m_rooms->rowOf(roomId);
    return row >= 0 && filterAcceptsRow(row, {});
}

bool RoomFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_text.isEmpty() || sourceParent.isValid())
        return true;
    const adminapi::RoomInfo *room = m_rooms->itemAt(sourceRow);
    if (!room)
        return false;
    const auto has = [this](const QString &s) { return s.contains(m_text, Qt::CaseInsensitive); };
    if (has(room->id) || has(QString::number(room->appointmentId)))
        return true;
    for (const auto &p : room->participants) {
        if (has(p.userId) || has(p.userName))
            return true;
    }
    return false;
}

} // namespace medrelay::console
