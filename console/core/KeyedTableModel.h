#pragma once
// A table model whose rows are items with a stable text key (room id,
// connection id). sync() turns a fresh snapshot from the server into row
// removals, dataChanged and row insertions, never a reset, so that views keep
// their selection, sort order and scroll position across refreshes.

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace medrelay::console {

template<typename Item>
class KeyedTableModel : public QAbstractTableModel
{
public:
    using QAbstractTableModel::QAbstractTableModel;

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : static_cast<int>(m_items.size());
    }

    [[nodiscard]] const QList<Item> &items() const { return m_items; }
    [[nodiscard]] int rowOf(const QString &key) const { return m_rows.value(key, -1); }
    [[nodiscard]] const Item *itemAt(int row) const
    {
        return row >= 0 && row < m_items.size() ? &m_items.at(row) : nullptr;
    }
    [[nodiscard]] const Item *find(const QString &key) const { return itemAt(rowOf(key)); }
    [[nodiscard]] QStringList keys() const { return m_rows.keys(); }

protected:
    [[nodiscard]] virtual QString keyOf(const Item &item) const = 0;

    // Makes the rows equal to `fresh` (matched by key; first occurrence wins).
    // Columns [volatileFirst, volatileLast] change on every call even when the
    // item does not (e.g. "idle for"); pass -1 when there are none.
    void sync(const QList<Item> &fresh, int volatileFirst = -1, int volatileLast = -1)
    {
        QHash<QString, qsizetype> incoming;
        incoming.reserve(fresh.size());
        for (qsizetype i = 0; i < fresh.size(); ++i) {
            const QString key = keyOf(fresh.at(i));
            if (!incoming.contains(key))
                incoming.insert(key, i);
        }

        // Removals, back to front, one signal per contiguous run.
        for (int row = static_cast<int>(m_items.size()) - 1; row >= 0;) {
            if (incoming.contains(keyOf(m_items.at(row)))) {
                --row;
                continue;
            }
            const int last = row;
            while (row >= 0 && !incoming.contains(keyOf(m_items.at(row))))
                --row;
            const int first = row + 1;
            beginRemoveRows({}, first, last);
            m_items.remove(first, last - first + 1);
            endRemoveRows();
        }
        reindex();

        // Updates in place.
        const int lastColumn = columnCount() - 1;
        QList<Item> added;
        for (qsizetype i = 0; i < fresh.size(); ++i) {
            const Item &item = fresh.at(i);
            const QString key = keyOf(item);
            if (incoming.value(key) != i)
                continue; // a later duplicate of a key in the same snapshot
            const int row = m_rows.value(key, -1);
            if (row < 0) {
                added.append(item);
                continue;
            }
            if (!(m_items.at(row) == item)) {
                m_items[row] = item;
                Q_EMIT dataChanged(index(row, 0), index(row, lastColumn));
            }
        }
        if (volatileFirst >= 0 && !m_items.isEmpty())
            Q_EMIT dataChanged(index(0, volatileFirst), index(static_cast<int>(m_items.size()) - 1, volatileLast));

        // Insertions at the end, in the server's order.
        if (!added.isEmpty()) {
            const int first = static_cast<int>(m_items.size());
            beginInsertRows({}, first, first + static_cast<int>(added.size()) - 1);
            for (const Item &item : std::as_const(added)) {
                m_rows.insert(keyOf(item), static_cast<int>(m_items.size()));
                m_items.append(item);
            }
            endInsertRows();
        }
    }

    // One item added or changed (matched by key), for sources that send changes
    // rather than snapshots.
    void upsertItem(const Item &item)
    {
        const QString key = keyOf(item);
        const int row = m_rows.value(key, -1);
        if (row >= 0) {
            if (!(m_items.at(row) == item)) {
                m_items[row] = item;
                Q_EMIT dataChanged(index(row, 0), index(row, columnCount() - 1));
            }
            return;
        }
        const int first = static_cast<int>(m_items.size());
        beginInsertRows({}, first, first);
        m_rows.insert(key, first);
        m_items.append(item);
        endInsertRows();
    }

    // Several items added or changed at once (matched by key): rows changed
    // in place are announced with one dataChanged over their span, new ones
    // with one insertion, so a view sorts and repaints once per batch.
    void upsertItems(const QList<Item> &items)
    {
        int first = -1;
        int last = -1;
        QList<Item> added;
        for (const Item &item : items) {
            const QString key = keyOf(item);
            const int row = m_rows.value(key, -1);
            if (row < 0) {
                if (!m_rows.contains(key))
                    added.append(item);
                continue;
            }
            if (m_items.at(row) == item)
                continue;
            m_items[row] = item;
            first = first < 0 ? row : std::min(first, row);
            last = std::max(last, row);
        }
        if (first >= 0)
            Q_EMIT dataChanged(index(first, 0), index(last, columnCount() - 1));
        if (!added.isEmpty()) {
            QHash<QString, bool> seen;
            QList<Item> fresh;
            for (const Item &item : std::as_const(added)) {
                if (!seen.contains(keyOf(item))) {
                    seen.insert(keyOf(item), true);
                    fresh.append(item);
                }
            }
            const int at = static_cast<int>(m_items.size());
            beginInsertRows({}, at, at + static_cast<int>(fresh.size()) - 1);
            for (const Item &item : std::as_const(fresh)) {
                m_rows.insert(keyOf(item), static_cast<int>(m_items.size()));
                m_items.append(item);
            }
            endInsertRows();
        }
    }

    // Returns whether a row with that key was there.
    bool removeKey(const QString &key)
    {
        const int row = m_rows.value(key, -1);
        if (row < 0)
            return false;
        beginRemoveRows({}, row, row);
        m_items.remove(row);
        m_rows.remove(key);
        // Only the rows after it moved up.
        for (int r = row; r < m_items.size(); ++r)
            m_rows[keyOf(m_items.at(r))] = r;
        endRemoveRows();
        return true;
    }

    // Tells views that columns [first, last] of every row changed (values derived from a clock).
    void touchColumns(int first, int last)
    {
        if (!m_items.isEmpty())
            Q_EMIT dataChanged(index(0, first), index(static_cast<int>(m_items.size()) - 1, last));
    }

    // A reset, for when the rows are a different set altogether.
    void replaceAll(const QList<Item> &fresh)
    {
        beginResetModel();
        m_items.clear();
        m_rows.clear();
        for (const Item &item : fresh) {
            const QString key = keyOf(item);
            if (m_rows.contains(key))
                continue;
            m_rows.insert(key, static_cast<int>(m_items.size()));
            m_items.append(item);
        }
        endResetModel();
    }

    void clearItems()
    {
        if (m_items.isEmpty())
            return;
        beginRemoveRows({}, 0, static_cast<int>(m_items.size()) - 1);
        m_items.clear();
        m_rows.clear();
        endRemoveRows();
    }

private:
    void reindex()
    {
        m_rows.clear();
        m_rows.reserve(m_items.size());
        for (int row = 0; row < m_items.size(); ++row)
            m_rows.insert(keyOf(m_items.at(row)), row);
    }

    QList<Item> m_items;
    QHash<QString, int> m_rows;
};

} // namespace medrelay::console
