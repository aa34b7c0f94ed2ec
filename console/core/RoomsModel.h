#pragma once
// The server's rooms as a table (room id, appointment, participants, idle
// time, last activity), refreshed from each /stats snapshot in place, keyed by
// room id. Idle time is measured against the server's own clock (the
// snapshot's timestamp) so a console on a machine with a skewed clock still
// shows the truth.

#include "adminapi/AdminTypes.h"
#include "core/KeyedTableModel.h"

namespace medrelay::console {

class RoomsModel final : public KeyedTableModel<adminapi::RoomInfo>
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomsModel)

public:
    enum Column { RoomIdColumn, AppointmentColumn, ParticipantsColumn, IdleColumn, LastActivityColumn, ColumnCount };
    enum Role {
        SortRole = Qt::UserRole + 1, // typed value to sort by (numbers, date-times)
        RoomIdRole,
        IdleSecondsRole,
    };

    explicit RoomsModel(QObject *parent = nullptr);

    // `serverNow` is the snapshot's timestamp; invalid means "use this machine's clock".
    void update(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    // Changes one room at a time, for sources that send changes rather than snapshots.
    void upsert(const adminapi::RoomInfo &room, const QDateTime &serverNow);
    bool remove(const QString &roomId, const QDateTime &serverNow = {});
    void clear();

    [[nodiscard]] const adminapi::RoomInfo *room(const QString &roomId) const { return find(roomId); }
    [[nodiscard]] qint64 idleSeconds(const adminapi::RoomInfo &room) const;
    [[nodiscard]] QDateTime now() const { return m_now; }

    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    [[nodiscard]] QString keyOf(const adminapi::RoomInfo &room) const override { return room.id; }

    QDateTime m_now;
};

} // namespace medrelay::console
