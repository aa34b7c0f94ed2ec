#include "core/AlertsModel.h"

namespace medrelay::console {

using namespace Qt::StringLiterals;

AlertsModel::AlertsModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int AlertsModel::rowOf(const QString &key) const
{
    for (int i = 0; i < m_alerts.size(); ++i) {
        if (m_alerts.at(i).key == key)
            return i;
    }
    return -1;
}

const Alert *AlertsModel::find(const QString &key) const
{
    const int row = rowOf(key);
    return row < 0 ? nullptr : &m_alerts.at(row);
}

void AlertsModel::raise(Alert alert)
{
    const int row = rowOf(alert.key);
    if (row >= 0) {
        Alert &existing = m_alerts[row];
        alert.since = existing.since;
        if (existing == alert)
            return;
        if (existing.severity == alert.severity) {
            existing = alert;
            Q_EMIT dataChanged(index(row), index(row));
            return;
        }
        removeRow(row); // a change of severity changes its place
    }
    if (!alert.since.isValid())
        alert.since = QDateTime::currentDateTimeUtc();
    int at = static_cast<int>(m_alerts.size());
    if (alert.severity == Alert::Severity::Critical) {
        at = 0;
        while (at < m_alerts.size() && m_alerts.at(at).severity == Alert::Severity::Critical)
            ++at;
    }
    beginInsertRows({}, at, at);
    m_alerts.insert(at, alert);
    endInsertRows();
    if (row < 0)
        Q_EMIT alertRaised(alert);
}

void AlertsModel::removeRow(int row)
{
    beginRemoveRows({}, row, row);
    m_alerts.remove(row);
    endRemoveRows();
}

void AlertsModel::clear(const QString &key)
{
    const int row = rowOf(key);
    if (row < 0)
        return;
    removeRow(row);
    Q_EMIT alertCleared(key);
}

void AlertsModel::clearPrefix(const QString &prefix)
{
    for (int row = static_cast<int>(m_alerts.size()) - 1; row >= 0; --row) {
        if (m_alerts.at(row).key.startsWith(prefix))
            clear(m_alerts.at(row).key);
    }
}

void AlertsModel::clearAll()
{
    clearPrefix(QString());
}

int AlertsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_alerts.size());
}

QVariant AlertsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_alerts.size())
        return {};
    const Alert &a = m_alerts.at(index.row());
    switch (role) {
    case Qt::DisplayRole: return a.detail.isEmpty() ? a.title : u"%1: %2"_s.arg(a.title, a.detail);
    case Qt::ToolTipRole: return a.detail;
    case KeyRole: return a.key;
    case SeverityRole: return static_cast<int>(a.severity);
    case TitleRole: return a.title;
    case DetailRole: return a.detail;
    case SinceRole: return a.since;
    default: break;
    }
    return {};
}

} // namespace medrelay::console
