#pragma once
// The participants of one room (user id, name, role, whether a host, state,
// joined, last activity, address, connection id, and in cluster mode the
// instance holding each connection), or its guests in the waiting room
// (since when each waits), keyed by connection id and refreshed in place.
// Switching to another room is a reset; refreshing the same room never is.

#include "adminapi/AdminTypes.h"
#include "core/KeyedTableModel.h"

namespace medrelay::console {

class ParticipantsModel final : public KeyedTableModel<adminapi::ParticipantInfo>
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ParticipantsModel)

public:
    enum Column {
        UserIdColumn,
        UserNameColumn,
        RoleColumn,
        HostColumn,
        StateColumn,
        JoinedColumn,
        LastActivityColumn,
        AddressColumn,
        ConnectionColumn,
        InstanceColumn, // cluster mode only: views hide it while hasInstances() is false
        ColumnCount
    };
    enum Role { SortRole = Qt::UserRole + 1, ConnectionIdRole, UserIdRole };

    enum class Kind { Members, WaitingGuests };

    explicit ParticipantsModel(QObject *parent = nullptr);
    explicit ParticipantsModel(Kind kind, QObject *parent = nullptr);
    [[nodiscard]] Kind kind() const { return m_kind; }

    // Shows `participants` of `roomId`; an empty roomId shows nothing.
    void setRoom(const QString &roomId, const QList<adminapi::ParticipantInfo> &participants);
    void clear() { setRoom({}, {}); }
    [[nodiscard]] QString roomId() const { return m_roomId; }
    [[nodiscard]] const adminapi::ParticipantInfo *participant(const QString &connectionId) const
    {
        return find(connectionId);
    }

    // Whether any participant shown names its instance (a cluster).
    [[nodiscard]] bool hasInstances() const;

    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    [[nodiscard]] QString keyOf(const adminapi::ParticipantInfo &p) const override { return p.connectionId; }

    QString m_roomId;
    Kind m_kind = Kind::Members;
};

} // namespace medrelay::console
