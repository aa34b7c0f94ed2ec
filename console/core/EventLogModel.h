#pragma once
// The console's log: the server's recent events (joins, leaves, closes,
// rejections from GET /admin/events) interleaved with what the console itself
// did or saw (actions and their results, connection state changes). Append
// only, capped; the oldest rows fall off the top.

#include "adminapi/AdminTypes.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QList>

namespace medrelay::console {

struct LogEntry
{
    enum class Source { Server, Console };
    enum class Severity { Info, Warning, Error };

    QDateTime time;
    Source source = Source::Server;
    Severity severity = Severity::Info;
    QString kind; // server event kind (join, leave, ...) or console kind (action, connection)
    QString roomId;
    QString connectionId;
    QString userId;
    QString detail;
    qint64 seq = 0; // server events only

    friend bool operator==(const LogEntry &, const LogEntry &) = default;
};

class EventLogModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(EventLogModel)

public:
    enum Column { TimeColumn, KindColumn, RoomColumn, ConnectionColumn, UserColumn, DetailColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, KindRole, SourceRole, SeverityRole };

    explicit EventLogModel(QObject *parent = nullptr);

    void setCapacity(int capacity);
    [[nodiscard]] int capacity() const { return m_capacity; }

    void addServerEvents(const QList<adminapi::Event> &events);
    void addConsoleEntry(const QString &kind, const QString &detail,
                         LogEntry::Severity severity = LogEntry::Severity::Info,
                         const QString &roomId = {}, const QString &connectionId = {});
    void append(const QList<LogEntry> &entries);
    void clear();

    [[nodiscard]] const QList<LogEntry> &entries() const { return m_entries; }
    [[nodiscard]] static QString kindLabel(const QString &kind);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    void trim();

    QList<LogEntry> m_entries;
    int m_capacity = 2000;
};

} // namespace medrelay::console
