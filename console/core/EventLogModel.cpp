#include "core/EventLogModel.h"

#include "core/Format.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

EventLogModel::EventLogModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

void EventLogModel::setCapacity(int capacity)
{
    m_capacity = std::max(1, capacity);
    trim();
}

void EventLogModel::addServerEvents(const QList<adminapi::Event> &events)
{
    QList<LogEntry> entries;
    entries.reserve(events.size());
    for (const auto &e : events) {
        LogEntry entry;
        entry.time = e.timestamp.isValid() ? e.timestamp : QDateTime::currentDateTimeUtc();
        entry.source = LogEntry::Source::Server;
        entry.kind = e.kind;
        entry.severity = e.kind == "rejected"_L1 || e.kind == "auth_failed"_L1 || e.kind == "join_denied"_L1
                             ? LogEntry::Severity::Warning
                             : LogEntry::Severity::Info;
        entry.roomId = e.roomId;
        entry.connectionId = e.connectionId;
        entry.userId = e.userId;
        entry.detail = e.detail;
        entry.seq = e.seq;
        entries.append(entry);
    }
    append(entries);
}

void EventLogModel::addConsoleEntry(const QString &kind, const QString &detail, LogEntry::Severity severity,
                                    const QString &roomId, const QString &connectionId)
{
    LogEntry entry;
    entry.time = QDateTime::currentDateTimeUtc();
    entry.source = LogEntry::Source::Console;
    entry.severity = severity;
    entry.kind = kind;
    entry.roomId = roomId;
    entry.connectionId = connectionId;
    entry.detail = detail;
    append({entry});
}

void EventLogModel::append(const QList<LogEntry> &entries)
{
    if (entries.isEmpty())
        return;
    // Only the newest `capacity` of a large batch are worth inserting.
    const qsizetype skip = std::max<qsizetype>(0, entries.size() - m_capacity);
    const int first = static_cast<int>(m_entries.size());
    beginInsertRows({}, first, first + static_cast<int>(entries.size() - skip) - 1);
    m_entries.append(entries.mid(skip));
    endInsertRows();
    trim();
}

void EventLogModel::trim()
{
    const qsizetype excess = m_entries.size() - m_capacity;
    if (excess <= 0)
        return;
    beginRemoveRows({}, 0, static_cast<int>(excess) - 1);
    m_entries.remove(0, excess);
    endRemoveRows();
}

void EventLogModel::clear()
{
    if (m_entries.isEmpty())
        return;
    beginRemoveRows({}, 0, static_cast<int>(m_entries.size()) - 1);
    m_entries.clear();
    endRemoveRows();
}

QString EventLogModel::kindLabel(const QString &kind)
{
    if (kind == "join"_L1) return tr("Joined");
    if (kind == "leave"_L1) return tr("Left");
    if (kind == "room_created"_L1) return tr("Room opened");
    if (kind == "room_closed"_L1) return tr("Room closed");
    if (kind == "rejected"_L1) return tr("Rejected");
    if (kind == "disconnect"_L1) return tr("Disconnected");
    if (kind == "away"_L1) return tr("Connection lost");
    if (kind == "waiting"_L1) return tr("Waiting");
    if (kind == "admission"_L1) return tr("Admission");
    if (kind == "join_denied"_L1) return tr("Join refused");
    if (kind == "room_settings"_L1) return tr("Room settings");
    if (kind == "consultation_ended"_L1) return tr("Consultation ended");
    if (kind == "auth_failed"_L1) return tr("Authentication failed");
    if (kind == "token_expired"_L1) return tr("Token expired");
    if (kind == "admin"_L1) return tr("Admin action");
    if (kind == "action"_L1) return tr("Console action");
    if (kind == "connection"_L1) return tr("Console");
    return kind;
}

int EventLogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_entries.size());
}

int EventLogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant EventLogModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_entries.size() || index.column() >= ColumnCount)
        return {};
    const LogEntry &e = m_entries.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn: return format::time(e.time);
        case KindColumn: return kindLabel(e.kind);
        case RoomColumn: return e.roomId;
        case ConnectionColumn: return e.connectionId;
        case UserColumn: return e.userId;
        case DetailColumn: return e.detail;
        }
        break;
    case SortRole:
        return index.column() == TimeColumn ? QVariant(e.time) : data(index, Qt::DisplayRole);
    case Qt::ToolTipRole:
        return u"%1 %2%3"_s.arg(e.time.toLocalTime().toString(Qt::ISODateWithMs),
                               e.source == LogEntry::Source::Server ? tr("(server event %1)").arg(e.seq)
                                                                    : tr("(this console)"),
                               e.detail.isEmpty() ? QString() : u"\n"_s + e.detail);
    case KindRole:
        return e.kind;
    case SourceRole:
        return static_cast<int>(e.source);
    case SeverityRole:
        return static_cast<int>(e.severity);
    default:
        break;
    }
    return {};
}

QVariant EventLogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn: return tr("Time");
    case KindColumn: return tr("Event");
    case RoomColumn: return tr("Room");
    case ConnectionColumn: return tr("Connection");
    case UserColumn: return tr("User");
    case DetailColumn: return tr("Detail");
    }
    return {};
}

} // namespace medrelay::console
