#pragma once
// The server's rooms as a table, one row per room keyed by its id: the
// appointment, who is in it, its consultation state (guests waiting and for
// how long the longest has waited, whether a host is present, locked, when it
// started and how long it has run) and how long it has been idle. Updated in
// place from snapshots, single changes or batches of them, never reset.
// Times are measured against the server's own clock (the latest data's
// timestamp) so a console on a machine with a skewed clock still shows the
// truth.

#include "adminapi/AdminTypes.h"
#include "core/KeyedTableModel.h"

namespace medrelay::console {

class RoomsModel final : public KeyedTableModel<adminapi::RoomInfo>
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomsModel)

public:
    enum Column {
        RoomIdColumn,
        AppointmentColumn,
        ParticipantsColumn,
        WaitingColumn,
        HostColumn,
        LockedColumn,
        StartedColumn,
        DurationColumn,
        IdleColumn,
        LastActivityColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // typed value to sort by (numbers, date-times)
        RoomIdRole,
        IdleSecondsRole,
        LongestWaitSecondsRole, // -1 when nobody waits (or the server did not say since when)
        WaitingTooLongRole,     // a guest has waited longer than the waiting alert's limit
    };

    explicit RoomsModel(QObject *parent = nullptr);

    // `serverNow` is the data's timestamp; invalid means "use this machine's clock".
    void update(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    // Changes one room at a time, for sources that send changes rather than snapshots.
    void upsert(const adminapi::RoomInfo &room, const QDateTime &serverNow);
    // Several rooms changed at once (e.g. their last activity): one update per batch.
    void upsertMany(const QList<adminapi::RoomInfo> &rooms, const QDateTime &serverNow);
    bool remove(const QString &roomId, const QDateTime &serverNow = {});
    // The server's clock moved on (the columns measured against it change).
    void setNow(const QDateTime &serverNow);
    void clear();

    // Guests waiting longer than this are marked (WaitingTooLongRole); 0: never.
    void setWaitingLimit(qint64 seconds);
    [[nodiscard]] qint64 waitingLimit() const { return m_waitingLimit; }

    [[nodiscard]] const adminapi::RoomInfo *room(const QString &roomId) const { return find(roomId); }
    [[nodiscard]] qint64 idleSeconds(const adminapi::RoomInfo &room) const;
    // How long the guest waiting longest has waited; -1 when none (or unknown).
    [[nodiscard]] qint64 longestWaitSeconds(const adminapi::RoomInfo &room) const;
    [[nodiscard]] qint64 durationSeconds(const adminapi::RoomInfo &room) const;
    [[nodiscard]] QDateTime now() const { return m_now; }

    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    [[nodiscard]] QString keyOf(const adminapi::RoomInfo &room) const override { return room.id; }
    void moveClock(const QDateTime &serverNow);

    QDateTime m_now;
    qint64 m_waitingLimit = 0;
};

} // namespace medrelay::console
