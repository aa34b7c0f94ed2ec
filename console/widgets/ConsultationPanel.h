#pragma once
// The consultation view: one room's consultation as the controller's
// Consultation knows it. A header (room, appointment, start and duration,
// host present, waiting room, lock; or why it is over), its participants
// with host and state, guests in the waiting room and since when, message
// counts by kind (never content) and the timeline of what happened while it
// was watched, with End consultation and Close room (each confirmed as
// everywhere else) and a button to stop watching.

#include <QWidget>

class QLabel;
class QPushButton;
class QTableView;

namespace medrelay::console {

class ConsoleController;

class ConsultationPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConsultationPanel)

public:
    explicit ConsultationPanel(ConsoleController *controller, QWidget *parent = nullptr);

    [[nodiscard]] QLabel *titleLabel() const { return m_title; }
    [[nodiscard]] QLabel *stateLabel() const { return m_state; }
    [[nodiscard]] QTableView *participantsView() const { return m_participants; }
    [[nodiscard]] QTableView *waitingView() const { return m_waiting; }
    [[nodiscard]] QTableView *messagesView() const { return m_messages; }
    [[nodiscard]] QTableView *timelineView() const { return m_timeline; }
    [[nodiscard]] QPushButton *endButton() const { return m_end; }
    [[nodiscard]] QPushButton *closeRoomButton() const { return m_closeRoom; }

    void setStale(bool stale);

private:
    void refresh();

    ConsoleController *m_controller = nullptr;
    QWidget *m_placeholder = nullptr;
    QWidget *m_body = nullptr;
    QLabel *m_title = nullptr;
    QLabel *m_state = nullptr;
    QLabel *m_waitingTitle = nullptr;
    QLabel *m_messagesTitle = nullptr;
    QTableView *m_participants = nullptr;
    QTableView *m_waiting = nullptr;
    QTableView *m_messages = nullptr;
    QTableView *m_timeline = nullptr;
    QPushButton *m_end = nullptr;
    QPushButton *m_closeRoom = nullptr;
    QPushButton *m_stopWatching = nullptr;
    bool m_followTimeline = true;
};

} // namespace medrelay::console
