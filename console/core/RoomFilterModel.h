#pragma once
// The rooms table as the user filters it: a room stays when the text is in
// its id or appointment, or in the user id or name of anyone in it (so typing
// a patient's name finds their consultation). Sorting is by RoomsModel's
// typed sort values.

#include <QSortFilterProxyModel>

namespace medrelay::console {

class RoomsModel;

class RoomFilterModel final : public QSortFilterProxyModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomFilterModel)

public:
    explicit RoomFilterModel(RoomsModel *rooms, QObject *parent = nullptr);

    void setFilterText(const QString &text);
    [[nodiscard]] QString filterText() const { return m_text; }
    [[nodiscard]] bool isFiltering() const { return !m_text.isEmpty(); }
    [[nodiscard]] bool accepts(const QString &roomId) const;

protected:
    [[nodiscard]] bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    RoomsModel *m_rooms = nullptr;
    QString m_text;
};

} // namespace medrelay::console
