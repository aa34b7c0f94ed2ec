#pragma once
// What happened in one consultation while the console watched it, oldest
// first: joins, leaves, lost connections, guests waiting, admissions,
// settings changes, the end. Plain sentences with ids and names, never
// message text. Append only, capped; the oldest entries fall off the top.

#include <QAbstractTableModel>
#include <QDateTime>
#include <QList>

namespace medrelay::console {

struct TimelineEntry
{
    QDateTime time;
    QString kind; // the server event kind (join, leave, admission, ...) or "console"
    QString text;
    QString connectionId;

    friend bool operator==(const TimelineEntry &, const TimelineEntry &) = default;
};

class TimelineModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TimelineModel)

public:
    enum Column { TimeColumn, EventColumn, ColumnCount };
    enum Role { KindRole = Qt::UserRole + 1 };

    explicit TimelineModel(QObject *parent = nullptr);

    void append(const TimelineEntry &entry);
    void clear();
    [[nodiscard]] const QList<TimelineEntry> &entries() const { return m_entries; }
    void setCapacity(int capacity);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<TimelineEntry> m_entries;
    int m_capacity = 500;
};

} // namespace medrelay::console
