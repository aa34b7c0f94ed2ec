#include "core/MessageCountsModel.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

MessageCountsModel::MessageCountsModel(QObject *parent)
    : KeyedTableModel<MessageCount>(parent)
{
}

void MessageCountsModel::setCounts(const QMap<QString, qint64> &counts)
{
    QList<MessageCount> rows;
    rows.reserve(counts.size());
    for (auto it = counts.cbegin(); it != counts.cend(); ++it)
        rows.append({it.key(), it.value()});
    sync(rows);
}

qint64 MessageCountsModel::count(const QString &kind) const
{
    const MessageCount *row = find(kind);
    return row ? row->count : 0;
}

qint64 MessageCountsModel::total() const
{
    qint64 sum = 0;
    for (const MessageCount &row : items())
        sum += row.count;
    return sum;
}

QString MessageCountsModel::label(const QString &kind)
{
    if (kind == "telemedicine_chat_message"_L1) return tr("Chat");
    if (kind == "whiteboard_update"_L1) return tr("Whiteboard");
    if (kind == "whiteboard_clear"_L1) return tr("Whiteboard cleared");
    if (kind == "telemedicine_offer"_L1) return tr("Call offer");
    if (kind == "telemedicine_answer"_L1) return tr("Call answer");
    if (kind == "telemedicine_ice_candidate"_L1) return tr("Network candidate (ICE)");
    if (kind == "telemedicine_user_joined"_L1) return tr("Join");
    if (kind == "telemedicine_user_left"_L1) return tr("Leave");
    return kind;
}

int MessageCountsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant MessageCountsModel::data(const QModelIndex &index, int role) const
{
    const MessageCount *row = itemAt(index.row());
    if (!row)
        return {};
    switch (role) {
    case Qt::DisplayRole:
        return index.column() == KindColumn ? label(row->kind) : QVariant(row->count);
    case SortRole:
        return index.column() == KindColumn ? QVariant(label(row->kind)) : QVariant(row->count);
    case Qt::ToolTipRole:
        return row->kind;
    case Qt::TextAlignmentRole:
        if (index.column() == CountColumn)
            return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
        break;
    case KindRole:
        return row->kind;
    default:
        break;
    }
    return {};
}

QVariant MessageCountsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    return section == KindColumn ? tr("Messages") : tr("Count");
}

} // namespace medrelay::console
