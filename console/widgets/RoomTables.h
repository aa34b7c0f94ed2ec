#pragma once
// The rooms table (with its filter and a line saying why it is empty) above
// the selected room's participants. It keeps the views' selection and the
// controller's in step both ways, so that what the user sees selected is
// what the actions act on, and greys both tables while the data is stale.

#include <QSplitter>

class QAction;
class QLabel;
class QLineEdit;
class QTableView;

namespace medrelay::console {

class ConsoleController;

class RoomTables final : public QSplitter
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomTables)

public:
    // `filterAction` (Ctrl+F) puts the cursor in the filter box.
    RoomTables(ConsoleController *controller, QAction *filterAction, QWidget *parent = nullptr);

    [[nodiscard]] QTableView *roomsView() const { return m_roomsView; }
    [[nodiscard]] QTableView *participantsView() const { return m_participantsView; }
    [[nodiscard]] QLineEdit *filterEdit() const { return m_filter; }
    [[nodiscard]] QLabel *roomsPlaceholder() const { return m_roomsEmpty; }

    void setStale(bool stale);
    void updateRoomsPlaceholder();

private:
    QWidget *buildRooms(QAction *filterAction);
    QWidget *buildParticipants();
    void onFilterChanged(const QString &text);
    void syncRoomView(const QString &roomId);
    void syncParticipantView(const QString &connectionId);
    void updateParticipantsTitle();

    ConsoleController *m_controller = nullptr;
    QLineEdit *m_filter = nullptr;
    QTableView *m_roomsView = nullptr;
    QLabel *m_roomsEmpty = nullptr;
    QLabel *m_participantsTitle = nullptr;
    QTableView *m_participantsView = nullptr;
};

} // namespace medrelay::console
