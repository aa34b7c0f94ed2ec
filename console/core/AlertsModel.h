#pragma once
// What the IT person must act on now (server draining or unreachable,
// connections near the cap, ...): a list of active alerts keyed by what they
// are about, raised and cleared by rules as figures arrive. The banner shows
// it; a desktop notification may announce each new one.

#include <QAbstractListModel>
#include <QDateTime>
#include <QList>

namespace medrelay::console {

struct Alert
{
    enum class Severity { Warning, Critical };

    QString key;    // one alert per key, e.g. "server.draining" or "room.<id>.waiting"
    Severity severity = Severity::Warning;
    QString title;  // short: "Server draining"
    QString detail; // what is wrong and what to do
    QDateTime since; // when it was first raised (this machine's clock)

    friend bool operator==(const Alert &, const Alert &) = default;
};

class AlertsModel final : public QAbstractListModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AlertsModel)

public:
    enum Role { KeyRole = Qt::UserRole + 1, SeverityRole, TitleRole, DetailRole, SinceRole };

    explicit AlertsModel(QObject *parent = nullptr);

    // Adds the alert, or updates the one with the same key (keeping its `since`).
    void raise(Alert alert);
    void clear(const QString &key);
    // Clears every alert whose key starts with `prefix`.
    void clearPrefix(const QString &prefix);
    void clearAll();

    [[nodiscard]] const QList<Alert> &alerts() const { return m_alerts; }
    [[nodiscard]] const Alert *find(const QString &key) const;
    [[nodiscard]] bool isActive(const QString &key) const { return find(key) != nullptr; }

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    // A new alert (not an update of one already shown).
    void alertRaised(const medrelay::console::Alert &alert);
    void alertCleared(const QString &key);

private:
    [[nodiscard]] int rowOf(const QString &key) const;
    void removeRow(int row);

    QList<Alert> m_alerts; // critical first, then in the order raised
};

} // namespace medrelay::console
